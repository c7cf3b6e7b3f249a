/**
 * The Fly.io regions an instance may be created in: the list GET /regions
 * serves and the one `fly_region` is validated against.
 */
export const REGIONS = [
  { code: "ams", name: "Amsterdam, Netherlands" },
  { code: "arn", name: "Stockholm, Sweden" },
  { code: "bom", name: "Mumbai, India" },
  { code: "cdg", name: "Paris, France" },
  { code: "dfw", name: "Dallas, Texas (US)" },
  { code: "ewr", name: "Secaucus, NJ (US)" },
  { code: "fra", name: "Frankfurt, Germany" },
  { code: "gru", name: "Sao Paulo, Brazil" },
  { code: "iad", name: "Ashburn, Virginia (US)" },
  { code: "jnb", name: "Johannesburg, South Africa" },
  { code: "lax", name: "Los Angeles, California (US)" },
  { code: "lhr", name: "London, United Kingdom" },
  { code: "nrt", name: "Tokyo, Japan" },
  { code: "ord", name: "Chicago, Illinois (US)" },
  { code: "sin", name: "Singapore, Singapore" },
  { code: "sjc", name: "San Jose, California (US)" },
  { code: "syd", name: "Sydney, Australia" },
  { code: "yyz", name: "Toronto, Canada" },
] as const;

export type RegionCode = (typeof REGIONS)[number]["code"];
export const REGION_CODES = REGIONS.map((r) => r.code) as RegionCode[];

export function isRegionCode(code: string): code is RegionCode {
  return (REGION_CODES as string[]).includes(code);
}
