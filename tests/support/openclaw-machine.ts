/**
 * What every OpenClaw machine on Fly must run, written out by hand from OpenClaw's
 * Fly guide (docs/install/fly.md) and Fly's machine config reference: the oracle the
 * Fly tests compare with, independent of the provider's own constants.
 */
export const OPENCLAW_MACHINE = {
  /** fly.toml's `[processes] app = ...`: the gateway on the LAN, port 3000. */
  cmd: ["node", "dist/index.js", "gateway", "--allow-unconfigured", "--port", "3000", "--bind", "lan"],
  /** shared-cpu-2x, 2 GB (512 MB runs out of memory). */
  guest: { cpu_kind: "shared", cpus: 2, memory_mb: 2048 },
  services: [
    {
      protocol: "tcp",
      internal_port: 3000,
      // A stopped instance stays stopped: Fly's proxy must not wake it.
      autostart: false,
      autostop: "off",
      ports: [
        { port: 80, handlers: ["http"], force_https: true },
        { port: 443, handlers: ["tls", "http"] },
      ],
      checks: [{ type: "http", method: "GET", path: "/healthz", protocol: "http", interval: "15s", timeout: "5s", grace_period: "30s" }],
    },
  ],
} as const;
