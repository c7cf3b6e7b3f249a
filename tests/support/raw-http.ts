import net from "node:net";

export interface RawResponse {
  status: number;
  /** Header names lowercased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `head` (a request line and headers, `\n` or `\r\n` separated, without
 * the blank line) and `body` to a new socket exactly as given, with
 * `Connection: close`, and parses the answer. No client in between, so odd
 * methods, undecodable paths and trailing slashes arrive as sent.
 */
export async function rawRequest(port: number, head: string, body = "", timeoutMs = 15_000): Promise<RawResponse> {
  const lines = head.split(/\r?\n/).filter((l) => l !== "");
  if (!lines.some((l) => /^host:/i.test(l))) lines.splice(1, 0, "Host: 127.0.0.1");
  if (!lines.some((l) => /^connection:/i.test(l))) lines.push("Connection: close");
  if (body && !lines.some((l) => /^(content-length|transfer-encoding):/i.test(l))) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1", () => socket.end(lines.join("\r\n") + "\r\n\r\n" + body));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("close", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no complete answer to ${JSON.stringify(lines[0])} within ${timeoutMs} ms`));
    });
  });
  return parseResponse(bytes, lines[0]!);
}

function parseResponse(bytes: Buffer, requestLine: string): RawResponse {
  const end = bytes.indexOf("\r\n\r\n");
  if (end === -1) throw new Error(`no answer (or a truncated one) to ${JSON.stringify(requestLine)}: ${JSON.stringify(bytes.toString("latin1"))}`);
  const [statusLine, ...headerLines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  const headers: Record<string, string> = {};
  for (const l of headerLines) {
    const i = l.indexOf(":");
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  let rest = bytes.subarray(end + 4);
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const out: Buffer[] = [];
    for (;;) {
      const nl = rest.indexOf("\r\n");
      const size = parseInt(rest.subarray(0, nl).toString("latin1"), 16);
      if (!size) break;
      out.push(rest.subarray(nl + 2, nl + 2 + size));
      rest = rest.subarray(nl + 2 + size + 2);
    }
    rest = Buffer.concat(out);
  }
  return { status, headers, body: rest.toString("utf8") };
}
