import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { instance, openclawVersion } from "@/db/schema";
import { processRuntime } from "@/inngest/runtime";
import { ComputeError, type LocalProvider } from "@/lib/compute";
import { machineRef } from "@/lib/services/operation-progress";
import { client, createAccount, createRunningInstance, uniqueSubdomain, waitForOperation } from "../support/fixtures";
import { describeSecurity, useApiServer } from "../support/security";

// OpenClaw versions on an instance over HTTP: the version an instance is created
// with, PATCH /instances/{id} (name, auto_upgrade), and POST /instances/{id}/upgrade.
// The database may be shared with other suites: versions made here have their own
// tags, and the platform's default is never changed.

const server = useApiServer();
const local = () => processRuntime().deps.compute() as LocalProvider;

let seq = 0;
/** A version only this test knows (released now: newer than the default). */
async function newVersion(o: { deprecated?: boolean } = {}) {
  const version = `2099.${process.pid}.${++seq}-http`;
  const image = `ghcr.io/openclaw/openclaw:${version}`;
  const db = await getDb();
  await db.insert(openclawVersion).values({ version, image, releasedAt: new Date(), deprecatedAt: o.deprecated ? new Date() : null });
  return { version, image };
}

async function account() {
  const me = await createAccount({ plan: "pro", limits: { heavy: 100 } });
  return client(server.url, me.token);
}

/** The instance's machine on the simulated provider. */
async function machineOf(instanceId: string) {
  const [row] = await (await getDb()).select().from(instance).where(eq(instance.id, instanceId));
  return machineRef(row!)!;
}

async function defaultVersion(api: ReturnType<typeof client>): Promise<string> {
  const versions = await api.get("/api/v1/versions");
  return versions.body.find((v: { default: boolean }) => v.default).version;
}

describe("an instance's version", () => {
  it("is the default one unless the create names another; auto_upgrade is on unless turned off", async () => {
    const api = await account();
    const def = await defaultVersion(api);
    const v = await newVersion();
    const a = await createRunningInstance(api, uniqueSubdomain("ver"));
    const b = await createRunningInstance(api, uniqueSubdomain("ver"), { version: v.version, auto_upgrade: false });
    expect((await api.get(`/api/v1/instances/${a.id}`)).body).toMatchObject({ version: def, auto_upgrade: true });
    expect((await api.get(`/api/v1/instances/${b.id}`)).body).toMatchObject({ version: v.version, auto_upgrade: false });
    expect(local().imageOf(await machineOf(b.id))).toBe(v.image); // the machine was made with the version's image
  });

  it("must be offered and not deprecated: 400 unsupported_version, and nothing is created", async () => {
    const api = await account();
    const deprecated = await newVersion({ deprecated: true });
    for (const version of ["0.0.0-nowhere", deprecated.version]) {
      const res = await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("nover"), version });
      expect({ status: res.status, code: res.body.code, version: res.body.version }).toEqual({ status: 400, code: "unsupported_version", version });
      expect(res.body.detail).toContain("GET /api/v1/versions");
    }
    expect((await api.get("/api/v1/instances")).body).toEqual([]);
    const bad = await api.post("/api/v1/instances", { subdomain: uniqueSubdomain("nover"), auto_upgrade: "yes" });
    expect({ status: bad.status, path: bad.body.errors?.[0]?.path }).toEqual({ status: 400, path: "auto_upgrade" });
  });
});

describe("POST /api/v1/instances/{id}/upgrade", () => {
  it("answers 202 with an instance.upgrade operation naming its target; once it succeeds, the instance shows the version", async () => {
    const api = await account();
    const { id } = await createRunningInstance(api, uniqueSubdomain("upg"));
    const from = (await api.get(`/api/v1/instances/${id}`)).body.version;
    const v = await newVersion();

    const res = await api.post(`/api/v1/instances/${id}/upgrade`, { version: v.version });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ type: "instance.upgrade", status: "pending", instance_id: id, target_version: v.version });
    expect(res.headers.get("operation-location")).toBe(`${server.url}/api/v1/operations/${res.body.id}`);

    const done = await waitForOperation(api, res.body.id);
    expect(done.body).toMatchObject({ status: "succeeded", error: null, target_version: v.version });
    expect((await api.get(`/api/v1/instances/${id}`)).body).toMatchObject({ status: "running", version: v.version });
    expect(local().imageOf(await machineOf(id))).toBe(v.image);
    const listed = await api.get(`/api/v1/operations?type=instance.upgrade&instance_id=${id}`);
    expect(listed.body.map((o: { id: string; target_version: string }) => [o.id, o.target_version])).toEqual([[res.body.id, v.version]]);
    // Other operations name no target version.
    expect((await api.get(`/api/v1/operations?type=instance.create&instance_id=${id}`)).body[0].target_version).toBeNull();

    // Back to the version it came from: an earlier version may be named too.
    const back = await waitForOperation(api, (await api.post(`/api/v1/instances/${id}/upgrade`, { version: from })).body.id);
    expect(back.body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}`)).body.version).toBe(from);
  });

  it("without a body, moves to the default version; on it already, 409 invalid_instance_state", async () => {
    const api = await account();
    const v = await newVersion();
    const { id } = await createRunningInstance(api, uniqueSubdomain("upd"), { version: v.version });
    const def = await defaultVersion(api);
    const res = await api.raw("POST", `/api/v1/instances/${id}/upgrade`);
    expect(res.body).toMatchObject({ type: "instance.upgrade", target_version: def });
    await waitForOperation(api, res.body.id);
    const again = await api.raw("POST", `/api/v1/instances/${id}/upgrade`);
    expect({ status: again.status, code: again.body.code, version: again.body.version }).toEqual({ status: 409, code: "invalid_instance_state", version: def });
    expect(again.body.detail).toContain(`already runs OpenClaw ${def}, the default version`);
  });

  it("refuses an unknown or deprecated version (400), an unknown field (400), and starts nothing", async () => {
    const api = await account();
    const { id } = await createRunningInstance(api, uniqueSubdomain("upr"));
    const deprecated = await newVersion({ deprecated: true });
    for (const version of ["9.9.9-unknown", deprecated.version]) {
      const res = await api.post(`/api/v1/instances/${id}/upgrade`, { version });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: "unsupported_version" });
    }
    const unknownField = await api.post(`/api/v1/instances/${id}/upgrade`, { version: "x", force: true });
    expect({ status: unknownField.status, code: unknownField.body.code, path: unknownField.body.errors[0].path }).toEqual({
      status: 400,
      code: "validation_error",
      path: "force",
    });
    expect((await api.get(`/api/v1/operations?type=instance.upgrade&instance_id=${id}`)).body).toEqual([]);
    expect((await api.get(`/api/v1/instances/${id}`)).body.status).toBe("running");
  });

  it("answers 409 operation_in_progress while another operation runs on the instance", async () => {
    const api = await account();
    const { id } = await createRunningInstance(api, uniqueSubdomain("upb"));
    const v = await newVersion();
    local().failNext("waitForState", new ComputeError("local_wait_timeout", "not yet", { retryable: true })); // the restart waits to retry
    const restart = await api.post(`/api/v1/instances/${id}/restart`);
    const res = await api.post(`/api/v1/instances/${id}/upgrade`, { version: v.version });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "operation_in_progress", operation_id: restart.body.id });
    await waitForOperation(api, restart.body.id);
    expect((await api.get(`/api/v1/instances/${id}`)).body.version).not.toBe(v.version);
  });

  it("rolls back to the previous image when the new one crashes on boot: upgrade_rolled_back, the old version running", async () => {
    const api = await account();
    const { id } = await createRunningInstance(api, uniqueSubdomain("upf"));
    const before = (await api.get(`/api/v1/instances/${id}`)).body;
    const v = await newVersion();
    local().failImage(v.image, { as: "boot" });
    const done = await waitForOperation(api, (await api.post(`/api/v1/instances/${id}/upgrade`, { version: v.version })).body.id);
    expect(done.body.status).toBe("failed");
    expect(done.body.error.code).toBe("upgrade_rolled_back");
    expect(done.body.error.message).toContain(`OpenClaw ${v.version} (${v.image}) did not come up`);
    expect(done.body.error.message).toContain(`put back on ${before.version}`);
    expect((await api.get(`/api/v1/instances/${id}`)).body).toMatchObject({ status: "running", version: before.version });
    const versions = (await api.get("/api/v1/versions")).body as { version: string; image: string }[];
    expect(local().imageOf(await machineOf(id))).toBe(versions.find((x) => x.version === before.version)!.image);
  });

  it("upgrades a stopped instance and leaves it stopped", async () => {
    const api = await account();
    const { id } = await createRunningInstance(api, uniqueSubdomain("ups"));
    await waitForOperation(api, (await api.post(`/api/v1/instances/${id}/stop`)).body.id);
    const v = await newVersion();
    const done = await waitForOperation(api, (await api.post(`/api/v1/instances/${id}/upgrade`, { version: v.version })).body.id);
    expect(done.body.status).toBe("succeeded");
    expect((await api.get(`/api/v1/instances/${id}`)).body).toMatchObject({ status: "stopped", version: v.version });
  });
});

describe("PATCH /api/v1/instances/{id}", () => {
  it("changes name and auto_upgrade as a merge patch: a field left out stays, null removes the name", async () => {
    const api = await account();
    const { id } = await createRunningInstance(api, uniqueSubdomain("pat"), { name: "Before" });
    const before = (await api.get(`/api/v1/instances/${id}`)).body;

    const renamed = await api.patch(`/api/v1/instances/${id}`, { name: "  After  " });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, name: "After", auto_upgrade: true, version: before.version, status: "running" });
    const off = await api.patch(`/api/v1/instances/${id}`, { auto_upgrade: false });
    expect(off.body).toMatchObject({ name: "After", auto_upgrade: false });
    const cleared = await api.raw("PATCH", `/api/v1/instances/${id}`, {
      rawBody: JSON.stringify({ name: null }),
      headers: { "content-type": "application/merge-patch+json" },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ name: null, auto_upgrade: false });
    const same = await api.patch(`/api/v1/instances/${id}`, {});
    expect(same.body).toEqual(cleared.body);
    expect((await api.get(`/api/v1/instances/${id}`)).body).toEqual(cleared.body);
    // By subdomain too.
    expect((await api.patch(`/api/v1/instances/${before.subdomain}`, { auto_upgrade: true })).body.auto_upgrade).toBe(true);
  });

  it("validates each field, refuses unknown ones, and changes nothing", async () => {
    const api = await account();
    const { id } = await createRunningInstance(api, uniqueSubdomain("pav"), { name: "Kept" });
    const cases: [unknown, string][] = [
      [{ auto_upgrade: "yes" }, "auto_upgrade"],
      [{ auto_upgrade: null }, "auto_upgrade"],
      [{ name: "" }, "name"],
      [{ name: "   " }, "name"],
      [{ name: "x".repeat(101) }, "name"],
      [{ name: 7 }, "name"],
      [{ status: "stopped" }, "status"],
      [{ version: "2026.11.20" }, "version"],
      [{ subdomain: "elsewhere" }, "subdomain"],
    ];
    for (const [body, path] of cases) {
      const res = await api.patch(`/api/v1/instances/${id}`, body);
      expect({ body, status: res.status, code: res.body.code, path: res.body.errors?.[0]?.path }).toEqual({ body, status: 400, code: "validation_error", path });
    }
    for (const raw of ["[]", "\"name\"", "null"]) {
      const res = await api.raw("PATCH", `/api/v1/instances/${id}`, { rawBody: raw, headers: { "content-type": "application/json" } });
      expect({ raw, status: res.status }).toEqual({ raw, status: 400 });
    }
    const text = await api.raw("PATCH", `/api/v1/instances/${id}`, { rawBody: "name=x", headers: { "content-type": "text/plain" } });
    expect({ status: text.status, code: text.body.code }).toEqual({ status: 415, code: "unsupported_media_type" });
    expect((await api.get(`/api/v1/instances/${id}`)).body).toMatchObject({ name: "Kept", auto_upgrade: true });
    expect((await api.patch("/api/v1/instances/inst_01jd3z6v7a8b9c0d1e2f3g4h5j", { name: "x" })).status).toBe(404);
  });

  it("is allowed while an operation runs: the fields do not touch the machine", async () => {
    const api = await account();
    const { id } = await createRunningInstance(api, uniqueSubdomain("pab"));
    local().failNext("waitForState", new ComputeError("local_wait_timeout", "not yet", { retryable: true }));
    const restart = await api.post(`/api/v1/instances/${id}/restart`);
    const res = await api.patch(`/api/v1/instances/${id}`, { auto_upgrade: false, name: "During" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "restarting", auto_upgrade: false, name: "During" });
    await waitForOperation(api, restart.body.id);
    expect((await api.get(`/api/v1/instances/${id}`)).body).toMatchObject({ status: "running", auto_upgrade: false, name: "During" });
  });
});

const withInstance = async (o: { token: string }) => (await createRunningInstance(client(server.url, o.token), uniqueSubdomain("sec"))).id;

describeSecurity("PATCH /api/v1/instances/{id}", server, {
  method: "PATCH",
  scope: "instance:write",
  ownsResource: true,
  body: { auto_upgrade: false },
  path: async (o) => `/api/v1/instances/${await withInstance(o)}`,
});
describeSecurity("POST /api/v1/instances/{id}/upgrade", server, {
  method: "POST",
  scope: "instance:write",
  ownsResource: true,
  body: {},
  path: async (o) => {
    const id = await withInstance(o);
    // On a version other than the default, so that an upgrade to the default is a valid request.
    const v = await newVersion();
    await waitForOperation(client(server.url, o.token), (await client(server.url, o.token).post(`/api/v1/instances/${id}/upgrade`, { version: v.version })).body.id);
    return `/api/v1/instances/${id}/upgrade`;
  },
});
