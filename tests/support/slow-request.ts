import http from "node:http";

type Answer = { status: number; body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface SlowRequest {
  /** Sends the rest of the body and ends the request; resolves with the answer. */
  finish(rest: string): Promise<Answer>;
}

/**
 * A request whose headers and first body bytes go out now, chunked, and whose
 * body ends only when the test says so: a client on a slow link, or one that
 * holds a request open on purpose.
 */
export function slowRequest(baseUrl: string, method: string, path: string, headers: Record<string, string>, start: string): SlowRequest {
  const url = new URL(path, baseUrl);
  const req = http.request(url, { method, headers: { ...headers, "transfer-encoding": "chunked" } });
  const answered = new Promise<Answer>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on("error", reject);
  });
  req.flushHeaders();
  req.write(start);
  return {
    finish: (rest) => {
      req.end(rest);
      return answered;
    },
  };
}
