import { scalarBundle } from "@/lib/openapi/scalar";

// The reference's script, from this host: /docs loads it as /docs/scalar.js?v=<version>.
export async function GET(req: Request): Promise<Response> {
  const bundle = scalarBundle();
  if (!bundle) {
    return new Response("The @scalar/api-reference package is not installed.\n", { status: 404, headers: { "content-type": "text/plain" } });
  }
  const versioned = new URL(req.url).searchParams.get("v") === bundle.version;
  return new Response(new Uint8Array(bundle.read()), {
    headers: {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": versioned ? "public, max-age=31536000, immutable" : "public, max-age=300",
      "x-content-type-options": "nosniff",
    },
  });
}
