// Plausible-looking, fake credentials for the config-document tests. Each ends
// in a distinct last four so a test can tell which one a `last4` came from.
export const ANTHROPIC_KEY = `sk-ant-api03-${"x".repeat(80)}AnT1`;
export const ANTHROPIC_KEY_2 = `sk-ant-api03-${"y".repeat(80)}AnT2`;
export const OPENAI_KEY = `sk-proj-${"a".repeat(40)}OpA1`;
export const GOOGLE_KEY = `AIza${"B".repeat(31)}GoO1`;
export const GOOGLE_AUTH_KEY = `AQ.Ab8RN6${"c".repeat(30)}GoO2`;
export const OPENROUTER_KEY = `sk-or-v1-${"0".repeat(60)}OrT1`;
export const TELEGRAM_TOKEN = `123456789:AAE${"b".repeat(28)}Tg42`;
export const TELEGRAM_TOKEN_2 = `987654321:AAF${"q".repeat(28)}Tg43`;
export const DISCORD_TOKEN = `MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.${"d".repeat(34)}Dc99`;
export const SLACK_BOT = `xoxb-1234567890-1234567890123-${"e".repeat(20)}Sb01`;
export const SLACK_APP = `xapp-1-A0123456789-1234567890123-${"f".repeat(40)}Sa02`;
export const GATEWAY_TOKEN = "gw_" + "9".repeat(61);

export const ALL_SECRETS = [
  ANTHROPIC_KEY,
  ANTHROPIC_KEY_2,
  OPENAI_KEY,
  GOOGLE_KEY,
  GOOGLE_AUTH_KEY,
  OPENROUTER_KEY,
  TELEGRAM_TOKEN,
  TELEGRAM_TOKEN_2,
  DISCORD_TOKEN,
  SLACK_BOT,
  SLACK_APP,
  GATEWAY_TOKEN,
];
