/**
 * Where OpenClaw lives inside an instance's machine: facts of the image and
 * its Fly guide (OpenClaw docs/install/fly.md), read by the Fly provider (the
 * machine's command, mount, env and service) and by the config renderer (the
 * config file's path and the gateway's port). Defined here once.
 */

/** The gateway's `--port` in the machine's command; Fly's service routes to it, and the config names it so `openclaw` CLI calls inside the machine find it. */
export const OPENCLAW_GATEWAY_PORT = 3000;

/** OpenClaw's state dir (OPENCLAW_STATE_DIR): the instance volume's mount point. */
export const OPENCLAW_STATE_DIR = "/data";

/** The config file the renderer writes (OPENCLAW_CONFIG_PATH). */
export const OPENCLAW_CONFIG_PATH = `${OPENCLAW_STATE_DIR}/openclaw.json`;
