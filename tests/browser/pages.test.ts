import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "@/lib/errors";
import { PLANS } from "@/lib/plans";
import { freePort, hasExecutable } from "../support/services";

/**
 * The pages a person sees, in headless Chromium against a real Next.js server:
 * `next start` when a build exists (CI builds first), `next dev` otherwise, or
 * the server at BROWSER_TEST_BASE_URL. Screenshots go to test-results/browser/.
 */
const CHROMIUM = "/usr/bin/chromium";
const ROOT = path.resolve(import.meta.dirname, "../..");
const SHOTS = path.join(ROOT, "test-results", "browser");
const haveChromium = hasExecutable("tests/browser/pages.test.ts (pages in Chromium)", CHROMIUM, "apt-get install -y chromium fonts-dejavu-core");

interface NextServer {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

async function startNext(): Promise<NextServer> {
  const given = process.env.BROWSER_TEST_BASE_URL;
  if (given) return { url: given.replace(/\/+$/, ""), output: () => "", stop: async () => undefined };
  const port = await freePort();
  const mode = fs.existsSync(path.join(ROOT, ".next", "BUILD_ID")) ? "start" : "dev";
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "moc-browser-"));
  // Next sets its own NODE_ENV (vitest's "test" makes it warn); without PUBLIC_BASE_URL the pages name the server the browser talks to.
  const { NODE_ENV: _nodeEnv, PUBLIC_BASE_URL: _publicBaseUrl, ...inherited } = process.env;
  const env = { ...inherited, PORT: String(port), DATA_DIR: dataDir, NEXT_TELEMETRY_DISABLED: "1", LOCAL_PROVIDER_DELAY_MS: "0" } as unknown as NodeJS.ProcessEnv;
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "node_modules", "next", "dist", "bin", "next"), mode, "--port", String(port), "--hostname", "127.0.0.1"], {
    cwd: ROOT,
    env,
    detached: true, // its own process group, so that stop() ends next's workers too
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  let exited = false;
  child.once("exit", () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      await new Promise((r) => (exited ? r(undefined) : child.once("exit", r)));
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`next ${mode} exited before it was ready:\n${out}`);
    try {
      const res = await fetch(`${url}/api/v1/regions`);
      if (res.status === 200) return { url, output: () => out, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  await stop();
  throw new Error(`next ${mode} did not answer within 150 s:\n${out}`);
}

describe.skipIf(!haveChromium)("pages in a browser", () => {
  let server: NextServer;
  let browser: Browser;
  const external: string[] = [];
  const consoleErrors: string[] = [];
  /** Requests to the server itself, per page opened: the checks on `external` and `consoleErrors` looked at these. */
  const ownRequests = new Map<string, number>();

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    server = await startNext();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  }, 200_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function open(pathname: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    ownRequests.set(pathname, ownRequests.get(pathname) ?? 0);
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (/^https?:$|^wss?:$/.test(u.protocol) && u.host !== new URL(server.url).host) external.push(`${pathname}: ${r.url()}`);
      else ownRequests.set(pathname, ownRequests.get(pathname)! + 1);
    });
    page.on("console", (m) => {
      // next dev's hot-reload socket is not part of the page
      if (m.type() === "error" && !/_next\/(webpack-)?hmr|WebSocket/.test(m.text())) consoleErrors.push(`${pathname}: ${m.text()}`);
    });
    const res = await page.goto(server.url + pathname, { waitUntil: "networkidle", timeout: 120_000 });
    expect(res?.status(), `${pathname}\n${server.output().slice(-2000)}`).toBe(200);
    return page;
  }

  it("/ says what the product does and how to start", { timeout: 180_000 }, async () => {
    const page = await open("/");
    expect(await page.title()).toContain("MyOpenClaw");
    expect(await page.getAttribute("html", "lang")).toBe("en");
    expect(await page.locator("h1").allInnerTexts()).toEqual(["Manage AI instances programmatically"]);
    const h2 = await page.locator("main h2").allInnerTexts();
    expect(h2).toEqual(["Quick start", "Connect an AI assistant (MCP)", "What You Can Build", "Security First", "Real-World Use Cases", "Available on Pro & Business"]);
    const text = await page.innerText("main");
    for (const s of ["Instance Lifecycle", "API Key Management", "Async Operations", "Multi-Instance", "HMAC-SHA256 Keys", "Rate Limiting"]) expect(text).toContain(s);
    for (const s of ["CI/CD Integration", "Monitoring Dashboard", "Fleet Management", "jq '.[] | {subdomain, status, fly_region}'", "import requests", "${{ secrets.API_KEY }}"]) {
      expect(text).toContain(s);
    }
    // the examples are written against this deployment
    expect(text).toContain(`${server.url}/api/v1/instances`);
    expect(text).toContain(`BASE = "${server.url}/api/v1"`);
    expect(text).not.toContain("myopenclaw.cloud");
    // plans, with the limits of lib/plans.ts
    expect(text).toContain("$49");
    expect(text).toContain("$99");
    expect(text).toContain(`Up to ${PLANS.pro.instances} instances`);
    expect(text).toContain(`Up to ${PLANS.business.instances} instances`);
    expect(await page.locator("table.limits tbody tr").allInnerTexts()).toEqual([
      `Pro\t${PLANS.pro.rate.read}\t${PLANS.pro.rate.write}\t${PLANS.pro.rate.heavy}\t${PLANS.pro.accountPerMinute.toLocaleString("en-US")}`,
      `Business\t${PLANS.business.rate.read}\t${PLANS.business.rate.write}\t${PLANS.business.rate.heavy}\t${PLANS.business.accountPerMinute.toLocaleString("en-US")}`,
    ]);
    expect(await page.locator('a[href="/docs"]').count()).toBeGreaterThan(1);
    // every scrollable code block can be reached with the keyboard
    expect(await page.locator("pre").count()).toBeGreaterThan(3);
    expect(await page.locator("pre:not([tabindex])").count()).toBe(0);
    const ids = await page.locator("[id]").evaluateAll((els) => els.map((e) => e.id));
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    await page.screenshot({ path: path.join(SHOTS, "landing.png"), fullPage: true });

    const phone = await open("/", { width: 390, height: 844 });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, "the page scrolls sideways on a phone").toBeLessThanOrEqual(0);
    await phone.screenshot({ path: path.join(SHOTS, "landing-phone.png"), fullPage: true });
  });

  it("/docs renders the API's operations from the served document", { timeout: 180_000 }, async () => {
    const doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { summary: string; tags: string[] }>>;
    };
    const operations = Object.values(doc.paths).flatMap((item) => Object.values(item));
    // The document is the app's own: the checks below run over every one of its operations.
    expect(operations.length).toBeGreaterThan(20);
    expect(operations.map((o) => o.summary)).toContain("Create an API key");
    const page = await open("/docs");
    await page.getByText(operations[0]!.summary, { exact: true }).first().waitFor({ timeout: 60_000 });
    const sidebar = await page.innerText("body");
    for (const op of operations) expect(sidebar, `operation "${op.summary}"`).toContain(op.summary);
    for (const tag of new Set(operations.flatMap((o) => o.tags))) expect(sidebar).toContain(tag);
    expect(sidebar).toContain("Quick start");
    expect(sidebar).toContain(`${server.url}/api/v1/account`);
    await page.screenshot({ path: path.join(SHOTS, "docs.png") });

    await page.getByText("Create an API key", { exact: true }).first().click();
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(SHOTS, "docs-operation.png") });
  });

  it("/docs preselects the bearer scheme: a key pasted once makes Try it work", { timeout: 180_000 }, async () => {
    // The server's first start printed its demo key (embedded mode); a given server names one.
    const key = process.env.BROWSER_TEST_API_KEY ?? /^ {4}(moc_\S+)$/m.exec(server.output())?.[1];
    expect(key, `no demo key in the server's output:\n${server.output().slice(-2000)}`).toBeDefined();
    const page = await open("/docs");
    const sent: { authorization?: string; status?: number }[] = [];
    page.on("response", (r) => {
      if (new URL(r.url()).pathname === "/api/v1/account") sent.push({ authorization: r.request().headers().authorization, status: r.status() });
    });
    await page.getByText("List instances", { exact: true }).first().waitFor({ timeout: 60_000 });
    // The introduction's authentication box shows the bearer scheme and its token field, not "No authentication selected".
    expect(await page.innerText("body")).not.toContain("No authentication selected");
    await page.getByText(/Selected Auth Type: bearer/).first().waitFor({ timeout: 10_000 });
    await page.getByPlaceholder("Token").first().fill(key!);

    const operation = page.locator('[id$="/GET/api/v1/account"]');
    await operation.scrollIntoViewIfNeeded();
    await operation.getByRole("button", { name: /Test Request/ }).click();
    const client = page.getByRole("dialog");
    await client.getByRole("button", { name: /^Send/ }).first().click();
    await expect.poll(() => sent.length, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(sent[0]).toEqual({ authorization: `Bearer ${key}`, status: 200 });
    await page.screenshot({ path: path.join(SHOTS, "docs-try-it.png") });
  });

  it("/docs/errors has an anchor for every error code", { timeout: 120_000 }, async () => {
    const page = await open("/docs/errors#rate_limited");
    // One row per code, no more, no fewer (and the codes are many: the loop below checks each).
    expect(Object.keys(ERROR_CODES).length).toBeGreaterThan(10);
    expect(await page.locator("tr[id]").count()).toBe(Object.keys(ERROR_CODES).length);
    for (const [code, { status, title }] of Object.entries(ERROR_CODES)) {
      const row = page.locator(`[id="${code}"]`);
      expect(await row.count(), code).toBe(1);
      const cells = await row.locator("th, td").allInnerTexts();
      expect(cells.slice(0, 3), code).toEqual([code, String(status), title]);
      expect(cells[3]!.length, `${code}: what to do`).toBeGreaterThan(10);
    }
    expect(await page.evaluate(() => document.querySelector(":target")?.id)).toBe("rate_limited");
    await page.screenshot({ path: path.join(SHOTS, "errors.png"), fullPage: true });
  });

  it("loads nothing from other hosts and logs no errors", () => {
    // Every page was opened and watched (each loads its own scripts and styles from the server).
    expect([...ownRequests.keys()].sort()).toEqual(["/", "/docs", "/docs/errors#rate_limited"]);
    for (const [pathname, n] of ownRequests) expect(n, pathname).toBeGreaterThan(1);
    expect(external).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
