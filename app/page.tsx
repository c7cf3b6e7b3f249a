import { headers } from "next/headers";
import { CodeBlock, Inline, SiteFooter, SiteHeader } from "./docs/_components/content";
import { baseUrlFromHeaders, exampleBaseUrl } from "@/lib/http/base-url";
import { API_PLANS, heroExample, mcpClientConfig, quickStart, useCases } from "@/lib/openapi/guide";
import { SCOPES } from "@/lib/scopes";

// The examples name this deployment's own URL, so the page is rendered per request.
export default async function Home() {
  const base = exampleBaseUrl(baseUrlFromHeaders(await headers()));
  const hero = heroExample(base);
  const [pro, business] = [API_PLANS.find((p) => p.name === "pro"), API_PLANS.find((p) => p.name === "business")];
  const instanceScopes = SCOPES.filter((s) => !s.startsWith("webhooks:"));

  const features = [
    {
      title: "Instance Lifecycle",
      text: "Create, start, stop, restart, and delete instances. Full control over your AI infrastructure from any script or tool.",
      endpoint: "POST /api/v1/instances/{id}/start",
    },
    {
      title: "API Key Management",
      text: "Create keys with fine-grained scopes. Read-only for monitoring, write for automation, or full access for admin tools.",
      endpoint: "POST /api/v1/keys",
    },
    {
      title: "Async Operations",
      text: "Long-running operations return immediately with an operation ID. Poll for completion or set up webhooks.",
      endpoint: "GET /api/v1/operations/{operationId}",
    },
    {
      title: "Multi-Instance",
      text: `Manage up to ${pro?.instances} instances (Pro) or ${business?.instances} instances (Business) from a single API key. Each with custom subdomains.`,
      endpoint: "GET /api/v1/instances",
    },
  ];

  const security = [
    { title: "HMAC-SHA256 Keys", text: "API keys are hashed with server-side pepper. Tokens are never stored in plaintext." },
    {
      title: `${instanceScopes.length} Granular Scopes`,
      text: `Least-privilege keys: instance:read, instance:write, keys:read, operations:read, and more (plus ${SCOPES.length - instanceScopes.length} for webhooks, and the shortcuts read, write and all).`,
    },
    { title: "Rate Limiting", text: "Per-key and per-user global ceilings prevent abuse. Fail-closed when Redis is unavailable." },
  ];

  return (
    <>
      <SiteHeader current="home" />
      <main id="main">
        <section className="hero" aria-labelledby="hero-title">
          <div className="wrap hero-grid">
            <div>
              <p className="eyebrow">REST API</p>
              <h1 id="hero-title">Manage AI instances programmatically</h1>
              <p className="lead">
                The MyOpenClaw Developer API gives you full control over your AI infrastructure. Create instances, manage keys, and automate
                operations — all from your own scripts and CI/CD pipelines.
              </p>
              <p className="actions">
                <a className="button primary" href="#quick-start">
                  Start in four steps
                </a>
                <a className="button" href="/docs">
                  Read the API reference
                </a>
              </p>
            </div>
            <CodeBlock label="terminal" code={`$ ${hero.command}\n\n${hero.output}`} />
          </div>
        </section>

        <section id="quick-start" aria-labelledby="quick-start-title">
          <div className="wrap">
            <h2 id="quick-start-title">Quick start</h2>
            <p className="section-lead">
              Every example on this page talks to this deployment, <code>{base}</code>. Paste them as they are.
            </p>
            <ol className="steps">
              {quickStart(base).map((s) => (
                <li key={s.title}>
                  <h3>{s.title.replace(/^\d+\.\s*/, "")}</h3>
                  <p>
                    <Inline text={s.text} />
                  </p>
                  <CodeBlock label={s.language === "shell" ? "shell" : s.language} code={s.code} />
                </li>
              ))}
            </ol>
          </div>
        </section>

        <section id="mcp" aria-labelledby="mcp-title">
          <div className="wrap">
            <h2 id="mcp-title">{mcpClientConfig(base).title}</h2>
            <p className="section-lead">
              <Inline text={mcpClientConfig(base).text} />
            </p>
            <CodeBlock label="MCP client configuration" code={mcpClientConfig(base).code} />
          </div>
        </section>

        <section id="build" aria-labelledby="build-title">
          <div className="wrap">
            <h2 id="build-title">What You Can Build</h2>
            <p className="section-lead">Full REST API coverage for managing your AI assistant infrastructure</p>
            <ul className="cards">
              {features.map((f) => (
                <li className="card" key={f.title}>
                  <h3>{f.title}</h3>
                  <p>{f.text}</p>
                  <p>
                    <code className="endpoint">{f.endpoint}</code>
                  </p>
                </li>
              ))}
            </ul>
          </div>
        </section>

        <section id="security" aria-labelledby="security-title">
          <div className="wrap">
            <h2 id="security-title">Security First</h2>
            <p className="section-lead">Built with security at every layer. No shortcuts.</p>
            <ul className="cards three">
              {security.map((f) => (
                <li className="card" key={f.title}>
                  <h3>{f.title}</h3>
                  <p>{f.text}</p>
                </li>
              ))}
            </ul>
          </div>
        </section>

        <section id="use-cases" aria-labelledby="use-cases-title">
          <div className="wrap">
            <h2 id="use-cases-title">Real-World Use Cases</h2>
            <p className="section-lead">See how developers are using the API in production</p>
            <div className="use-cases">
              {useCases(base).map((u) => (
                <article key={u.title}>
                  <h3>{u.title}</h3>
                  <p>{u.text}</p>
                  <CodeBlock label={u.language === "yaml" ? "GitHub Actions" : u.language === "python" ? "Python" : "shell"} code={u.code} />
                </article>
              ))}
            </div>
          </div>
        </section>

        <section id="plans" aria-labelledby="plans-title">
          <div className="wrap">
            <h2 id="plans-title">Available on Pro &amp; Business</h2>
            <p className="section-lead">
              API access is included with Pro (${pro?.price}/mo) and Business (${business?.price}/mo) plans. No extra charges for API calls.
            </p>
            <ul className="cards plans">
              {API_PLANS.map((p) => (
                <li className="card plan" key={p.name}>
                  <h3>{p.name === "pro" ? "Pro" : "Business"}</h3>
                  <p className="price">
                    <strong>${p.price}</strong>/month
                  </p>
                  <ul className="ticks">
                    <li>Full API access</li>
                    <li>Up to {p.instances} instances</li>
                    <li>{p.name === "pro" ? "Unlimited API keys" : "Higher rate limits"}</li>
                  </ul>
                </li>
              ))}
            </ul>
            <div className="table-scroll" role="region" aria-labelledby="limits-caption" tabIndex={0}>
              <table className="limits">
                <caption id="limits-caption">Rate limits, in requests per minute</caption>
                <thead>
                  <tr>
                    <th scope="col">Plan</th>
                    <th scope="col">Read, per key</th>
                    <th scope="col">Write, per key</th>
                    <th scope="col">Heavy, per key</th>
                    <th scope="col">All keys of the account</th>
                  </tr>
                </thead>
                <tbody>
                  {API_PLANS.map((p) => (
                    <tr key={p.name}>
                      <th scope="row">{p.name === "pro" ? "Pro" : "Business"}</th>
                      <td>{p.rate.read}</td>
                      <td>{p.rate.write}</td>
                      <td>{p.rate.heavy}</td>
                      <td>{p.accountPerMinute.toLocaleString("en-US")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p className="note">
              Read is any GET; heavy is a request that starts an operation (create, start, stop, restart, delete, reconfigure); write is any
              other change. Every answer says how much is left in its <code>X-RateLimit-*</code> and <code>RateLimit</code> headers.
            </p>
            <p className="next">
              <a className="button primary" href="/docs">
                Explore every endpoint in the API reference
              </a>
            </p>
          </div>
        </section>
      </main>
      <SiteFooter />
    </>
  );
}
