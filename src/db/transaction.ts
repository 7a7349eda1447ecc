// The client type that repositories accept: the Prisma client itself or a transaction handle,
// so a service can run the same repository calls inside or outside a transaction.
import type { PrismaClient } from "../generated/prisma/client";
import type { SqlQuery } from "./sql";

export type Db = Omit<PrismaClient, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;

export function inTransaction<T>(prisma: PrismaClient, fn: (tx: Db) => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return prisma.$transaction((tx) => fn(tx), { timeout: timeoutMs, maxWait: timeoutMs });
}

/** A Prisma client or transaction as a driver-style `query` (for code written against raw SQL). */
export function queryableOf(tx: Db): { query<T>(query: SqlQuery): Promise<T[]> } {
  return { query: <T>(q: SqlQuery) => tx.$queryRawUnsafe<T[]>(q.text, ...q.values) };
}
