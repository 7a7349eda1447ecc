// The usage event's plain constants, without zod (the console may import them). The event's schema
// is event-schemas.ts; the API's answers about events are event-views.ts.

/** What the gateway knows of an address's network; the link policy says which are shared infrastructure (docs/linking.md). */
export const ipTypes = ["residential", "hosting", "cloud", "vpn", "proxy", "cgnat", "unknown"] as const;
export type IpType = (typeof ipTypes)[number];
