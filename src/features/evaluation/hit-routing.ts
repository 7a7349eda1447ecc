// Where a batch's hits go (docs/rule-lifecycle.md): a hit of an active version opens or joins a
// case, unless an allow entry or a snooze suppresses it; a shadow version's hit never does. Every
// hit that goes to no case is kept as a side hit, and so is every live hit of a rule while a
// shadow of it runs (its report compares the two). Pure: the stores, real and fake, route alike.
import type { Hit } from "../cases/case-repository";

/** What suppressed a hit: an allow entry or a snooze, with its reason. */
export type Suppression = { type: "allow" | "snooze"; id: string; reason: string };

/** A hit waiting for its effects, with the queued event whose task carries them. */
export type PendingHit = {
  hit: Hit;
  eventPk: bigint;
  /** shadow: a candidate version's would-be hit. Absent: the active version's. */
  role?: "shadow";
  /** The running shadow of the hit's rule, if any. */
  shadowId?: string;
};

export type SideHit = { hit: Hit; role: "live" | "shadow"; shadowId: string | null; suppressedBy: Suppression | null };

export type RoutedHits = {
  /** Active versions' hits not suppressed: recorded in cases. */
  toCases: Hit[];
  /** Kept apart: shadow hits, suppressed hits, and live hits of a rule in shadow. */
  side: SideHit[];
  /** Live hits suppressed (counted apart from hits in rule quality). */
  suppressed: Hit[];
};

export function routeHits(pending: readonly PendingHit[], suppressionOf: (p: PendingHit) => Suppression | undefined): RoutedHits {
  const routed: RoutedHits = { toCases: [], side: [], suppressed: [] };
  for (const p of pending) {
    const suppressedBy = suppressionOf(p) ?? null;
    if (p.role === "shadow") {
      routed.side.push({ hit: p.hit, role: "shadow", shadowId: p.shadowId ?? null, suppressedBy });
      continue;
    }
    if (suppressedBy) routed.suppressed.push(p.hit);
    else routed.toCases.push(p.hit);
    if (suppressedBy || p.shadowId) routed.side.push({ hit: p.hit, role: "live", shadowId: p.shadowId ?? null, suppressedBy });
  }
  return routed;
}
