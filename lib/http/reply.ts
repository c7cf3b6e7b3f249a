/**
 * What a handler returns when the default (200 with the value as JSON) is not
 * enough. Relative URLs in Location headers and page links are made absolute
 * by the wrapper.
 */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
    /** For cursor pages: the cursor of the next page, or null on the last. */
    readonly nextCursor: string | null = null,
  ) {}
}

export const created = (body: unknown, location?: string) =>
  new Reply(201, body, location ? { location } : {});

export const noContent = () => new Reply(204, undefined);

/** 202 for a request that started an operation: where to poll it. */
export const accepted = (operation: { id: string }) => {
  const url = `/api/v1/operations/${operation.id}`;
  return new Reply(202, operation, { location: url, "operation-location": url });
};

/**
 * 200 for a PUT that found what it asks for already in place: nothing was
 * started, and `Config-Unchanged: true` says so.
 */
export const unchanged = (body: unknown) => new Reply(200, body, { "config-unchanged": "true" });

/** One page of a list: a bare JSON array, and a Link header when more follow. */
export const page = (items: unknown[], nextCursor: string | null) => new Reply(200, items, {}, nextCursor);

/** 200 with a body that is not JSON (the Prometheus exposition), sent as it is with its own content type. */
export const plainText = (body: string, contentType: string) => new Reply(200, body, { "content-type": contentType });
