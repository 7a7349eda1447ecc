// Webhooks: notifications (a case opened or changed status, an account enforced) are written to
// an outbox in the transaction of the change, so none is lost and none delays the request that
// caused it; the worker delivers them with an HMAC-SHA256 signature, retrying with backoff.
import { createHmac, randomUUID } from "node:crypto";
import type { Database } from "../../db/database";
import { sql } from "../../db/sql";
import type { Sql } from "../../db/database";
import type { Logger } from "../../shared/logger";

export type WebhookEventType = "case.opened" | "case.status_changed" | "account.enforced" | "statement.issued";

export type WebhookConfig = { urls: string[]; secret: string | undefined; timeoutMs: number; maxAttempts: number };

export const signatureHeader = "X-ClauseGuard-Signature";

/** `sha256=<hex>` of `<timestamp>.<body>`: the receiver recomputes it with the shared secret. */
export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** `tx`: the transaction of the change (on the driver, or one opened with { orm: true }: db/README.md). */
export type WebhookOutbox = { notify(tx: Sql, type: WebhookEventType, data: Record<string, unknown>, now: Date): Promise<void> };

/** Writes one delivery per configured URL; with none configured it writes nothing. */
export function createWebhookOutbox(config: Pick<WebhookConfig, "urls">): WebhookOutbox {
  return {
    async notify(tx, type, data, now) {
      if (config.urls.length === 0) return;
      const payload = { id: `whe_${randomUUID().replace(/-/g, "")}`, type, at: now.toISOString(), data };
      await tx.query(sql`
        INSERT INTO webhook_delivery (url, event_type, payload, next_attempt_at)
        SELECT url, ${type}, ${JSON.stringify(payload)}::jsonb, ${now.toISOString()}::timestamptz FROM unnest(${config.urls}::text[]) AS url`);
    },
  };
}

/** Backoff after the n-th failed attempt: 2^n seconds, at most an hour. */
export const retryDelayMs = (attempts: number) => Math.min(3_600_000, 1000 * 2 ** attempts);

type Claimed = { id: bigint; url: string; payload: unknown; attempts: number };

/** What this process's dispatcher did since it started (read by /metrics). */
export type WebhookStats = { delivered: number; retried: number; failed: number };

export function createWebhookDispatcher(db: Database, config: WebhookConfig, logger: Logger, post: typeof fetch = fetch) {
  const stats: WebhookStats = { delivered: 0, retried: 0, failed: 0 };
  /** Delivers what is due; returns how many deliveries succeeded. Safe beside other dispatchers (SKIP LOCKED, lease). */
  async function deliverDue(limit = 50, now = new Date()): Promise<number> {
    if (!config.secret) return 0;
    const secret = config.secret;
    // Claim by pushing the next attempt past the request timeout: another worker leaves these alone meanwhile.
    const claimed = await db.prisma.$queryRaw<Claimed[]>`
      UPDATE webhook_delivery SET next_attempt_at = ${new Date(now.getTime() + config.timeoutMs * 2)}
      -- Run once, before the update, whatever the statistics (see claimBatch in evaluation-queue.ts).
      WHERE id = ANY(ARRAY(
        SELECT id FROM webhook_delivery
        WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ${now}
        ORDER BY next_attempt_at LIMIT ${limit}
        FOR UPDATE SKIP LOCKED))
      RETURNING id, url, payload, attempts`;
    let delivered = 0;
    await Promise.all(
      claimed.map(async (d) => {
        const body = JSON.stringify(d.payload);
        const timestamp = String(Math.floor(now.getTime() / 1000));
        let error: string | undefined;
        try {
          const res = await post(d.url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "user-agent": "ClauseGuard-Webhook/1",
              "X-ClauseGuard-Delivery": String(d.id),
              "X-ClauseGuard-Timestamp": timestamp,
              [signatureHeader]: sign(secret, timestamp, body),
            },
            body,
            signal: AbortSignal.timeout(config.timeoutMs),
          });
          if (!res.ok) error = `HTTP ${res.status}`;
          await res.body?.cancel();
        } catch (err) {
          error = (err as Error).message;
        }
        const attempts = d.attempts + 1;
        if (!error) {
          delivered++;
          stats.delivered++;
          await db.prisma.webhookDelivery.update({ where: { id: d.id }, data: { attempts, deliveredAt: new Date(), lastError: null } });
          return;
        }
        const giveUp = attempts >= config.maxAttempts;
        if (giveUp) stats.failed++;
        else stats.retried++;
        if (giveUp) logger.warn({ deliveryId: String(d.id), url: d.url, error }, "webhook delivery failed for the last time");
        await db.prisma.webhookDelivery.update({
          where: { id: d.id },
          data: { attempts, lastError: error.slice(0, 1000), ...(giveUp ? { failedAt: new Date() } : { nextAttemptAt: new Date(Date.now() + retryDelayMs(attempts)) }) },
        });
      }),
    );
    return delivered;
  }

  return { deliverDue, stats };
}
