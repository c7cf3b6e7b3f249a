import type { ReactNode } from "react";

/** Text with `backtick` spans, as the shared guide writes it, rendered with <code>. */
export function Inline({ text }: { text: string }): ReactNode {
  return text.split(/(`[^`]+`)/g).map((part, i) =>
    part.startsWith("`") && part.endsWith("`") && part.length > 1 ? <code key={i}>{part.slice(1, -1)}</code> : part,
  );
}

/** A titled code block; focusable so that keyboard users can scroll it sideways. */
export function CodeBlock({ code, label }: { code: string; label: string }) {
  return (
    <figure className="code">
      <figcaption>{label}</figcaption>
      <pre tabIndex={0} aria-label={label}>
        <code>{code}</code>
      </pre>
    </figure>
  );
}

export function SiteHeader({ current }: { current?: "home" | "errors" }) {
  return (
    <header className="site-header">
      <div className="wrap">
        <a className="brand" href="/" aria-current={current === "home" ? "page" : undefined}>
          MyOpenClaw <span>Developer API</span>
        </a>
        <nav aria-label="Main">
          <ul>
            <li>
              <a href="/docs">API reference</a>
            </li>
            <li>
              <a href="/docs/errors" aria-current={current === "errors" ? "page" : undefined}>
                Errors
              </a>
            </li>
            <li>
              <a href="/api/v1/openapi.json">OpenAPI</a>
            </li>
          </ul>
        </nav>
      </div>
    </header>
  );
}

export function SiteFooter() {
  return (
    <footer className="site-footer">
      <div className="wrap">
        <p>
          MyOpenClaw hosts one <a href="https://github.com/openclaw/openclaw">OpenClaw</a> assistant per subdomain on Fly.io Machines. This
          page sets no cookies and loads nothing from other sites.
        </p>
        <p>
          <a href="/docs">API reference</a> · <a href="/docs/errors">Error codes</a> · <a href="/api/v1/openapi.json">OpenAPI 3.1 document</a>
        </p>
      </div>
    </footer>
  );
}
