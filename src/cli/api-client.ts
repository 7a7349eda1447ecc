// The command line's client of a running ClauseGuard: the key on every request, JSON answers,
// and patience where the server asks for it (429 with Retry-After, 408, 503, a dropped connection),
// so a long import survives a restart of the server it feeds. Requests are idempotent where it
// retries them (events carry their eventId; reads).
import { setTimeout as sleep } from "node:timers/promises";

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** `raw`: the body is already text of this content type (NDJSON), sent as it is. */
export type ApiClient = { url: string; request<T>(method: string, path: string, body?: unknown, raw?: { contentType: string }): Promise<T> };

/** 408: the server did not take in the whole request within its request timeout (a busy embedded server): nothing was done. */
const retryable = new Set([408, 429, 502, 503, 504]);

/** A problem+json body as one line: its title and each field error with its path. */
function describeProblem(status: number, text: string): string {
  try {
    const p = JSON.parse(text) as { title?: string; detail?: string; errors?: { path: string; message: string }[] };
    const fields = (p.errors ?? []).map((e) => `${e.path || "(body)"}: ${e.message}`).join("; ");
    return `${status} ${p.title ?? ""}${p.detail ? `: ${p.detail}` : ""}${fields ? ` (${fields})` : ""}`.trim();
  } catch {
    return `${status} ${text.slice(0, 300)}`;
  }
}

export function createApiClient(url: string, key: string, opts: { attempts?: number } = {}): ApiClient {
  const attempts = opts.attempts ?? 8;
  return {
    url,
    async request<T>(method: string, path: string, body?: unknown, raw?: { contentType: string }): Promise<T> {
      const payload = body === undefined ? undefined : raw ? String(body) : JSON.stringify(body);
      const contentType = raw?.contentType ?? "application/json";
      for (let attempt = 1; ; attempt++) {
        let res: Response;
        try {
          res = await fetch(`${url}${path}`, {
            method,
            headers: { authorization: `Bearer ${key}`, ...(payload ? { "content-type": contentType } : {}) },
            body: payload,
            signal: AbortSignal.timeout(120_000),
          });
        } catch (err) {
          if (attempt >= attempts) throw new ApiError(`${method} ${url}${path}: ${(err as Error).cause ?? (err as Error).message}`);
          await sleep(Math.min(10_000, 250 * 2 ** attempt));
          continue;
        }
        const text = await res.text();
        if (res.ok) return (text ? JSON.parse(text) : undefined) as T;
        if (retryable.has(res.status) && attempt < attempts) {
          const after = Number(res.headers.get("retry-after"));
          await sleep(Number.isFinite(after) && after > 0 ? Math.min(after, 60) * 1000 : Math.min(10_000, 250 * 2 ** attempt));
          continue;
        }
        throw new ApiError(`${method} ${path}: ${describeProblem(res.status, text)}`, res.status);
      }
    },
  };
}
