import type { Metadata } from "next";
import { headers } from "next/headers";
import { CodeBlock, Inline, SiteFooter, SiteHeader } from "../_components/content";
import { baseUrlFromHeaders, exampleBaseUrl } from "@/lib/http/base-url";
import { errorDocs, exampleProblem } from "@/lib/openapi/errors";

export const metadata: Metadata = {
  title: "Error codes",
  description: "Every error code of the MyOpenClaw Developer API, its HTTP status, and what to do about it.",
};

// Each problem's `type` is /docs/errors#<code>: every code below has that anchor.
export default async function ErrorsPage() {
  const base = exampleBaseUrl(baseUrlFromHeaders(await headers()));
  const codes = errorDocs();
  const example = JSON.stringify({ ...exampleProblem("insufficient_scope"), detail: "This request needs the `instance:write` scope, which this key does not have." }, null, 2);
  return (
    <>
      <SiteHeader current="errors" />
      <main id="main" className="wrap prose">
        <h1>Error codes</h1>
        <p>
          Every error is an <code>application/problem+json</code> document (RFC 9457) with a stable <code>code</code> to branch on, a{" "}
          <code>detail</code> for people, and the <code>request_id</code> that is also in the <code>X-Request-Id</code> header. Its{" "}
          <code>type</code> links to the code&apos;s entry below. Validation errors list each invalid field in <code>errors</code>.
        </p>
        <CodeBlock
          label="An error, as the API answers it"
          code={`$ curl -i -X POST -H "Authorization: Bearer $READ_ONLY_KEY" ${base}/api/v1/instances/my-assistant/restart\nHTTP/1.1 403 Forbidden\ncontent-type: application/problem+json\n\n${example}`}
        />
        <p>
          A request refused before it runs (authentication, validation, rate limit, <code>503</code>) changed nothing and can be retried as it
          is once the cause is fixed. Send an <code>Idempotency-Key</code> with changes so that retrying a request whose answer you did not see
          is always safe.
        </p>
        <table className="errors">
          <caption>{codes.length} error codes</caption>
          <thead>
            <tr>
              <th scope="col">Code</th>
              <th scope="col">Status</th>
              <th scope="col">Title</th>
              <th scope="col">What to do</th>
            </tr>
          </thead>
          <tbody>
            {codes.map((c) => (
              <tr key={c.code} id={c.code}>
                <th scope="row">
                  <a href={`#${c.code}`}>
                    <code>{c.code}</code>
                  </a>
                </th>
                <td>{c.status}</td>
                <td>{c.title}</td>
                <td>
                  <Inline text={c.advice} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <p>
          Back to the <a href="/docs">API reference</a>.
        </p>
      </main>
      <SiteFooter />
    </>
  );
}
