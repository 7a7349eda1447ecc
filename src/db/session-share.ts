// Who gets PGlite's one session next (embedded-wire-server.ts). Connections come in two classes:
// foreground (the HTTP thread: ingestion the gateway waits for, enforcement and case reads) and
// background (the evaluation thread, whose work is asynchronous). When both wait, background gets
// the session only while its share of the recent session time is below `backgroundShare`;
// otherwise the first waiter of the foreground goes first. Alone, either class has the session
// whenever it wants it. Within a class, first come first served.

export type SessionClass = "foreground" | "background";

/** The application_name a connection gives at start-up to be served as background work. */
export const backgroundApplicationName = "clauseguard-evaluation";

export type SessionShareOptions = {
  /** The least share of the session's time background work gets while foreground work waits (0-1). */
  backgroundShare: number;
  /** How fast past use is forgotten: the time constant of the decay, in ms. */
  memoryMs: number;
  now?: () => number;
};

export const defaultSessionShare: SessionShareOptions = { backgroundShare: 0.25, memoryMs: 2_000 };

/** A lock on the one session whose queue is served by class, with a time share for background work. */
export class SessionShare {
  private owner: { who: object; cls: SessionClass; since: number } | undefined;
  private readonly waiting: Record<SessionClass, { who: object; go: () => void }[]> = { foreground: [], background: [] };
  /** Session time used per class, decayed with memoryMs, as of `decayedAt`. */
  private readonly used: Record<SessionClass, number> = { foreground: 0, background: 0 };
  private decayedAt: number;
  private readonly now: () => number;

  constructor(private readonly opts: SessionShareOptions = defaultSessionShare) {
    this.now = opts.now ?? (() => performance.now());
    this.decayedAt = this.now();
  }

  async acquire(who: object, cls: SessionClass): Promise<void> {
    if (this.owner?.who === who) return;
    if (!this.owner) {
      this.owner = { who, cls, since: this.now() };
      return;
    }
    await new Promise<void>((go) => this.waiting[cls].push({ who, go }));
  }

  release(who: object): void {
    if (this.owner?.who !== who) return;
    const t = this.now();
    this.decay(t);
    this.used[this.owner.cls] += t - this.owner.since;
    const cls = this.nextClass();
    const next = cls && this.waiting[cls].shift();
    this.owner = next && cls ? { who: next.who, cls, since: t } : undefined;
    next?.go();
  }

  /** Drops a connection that went away while waiting. */
  forget(who: object): void {
    for (const line of Object.values(this.waiting)) {
      const i = line.findIndex((w) => w.who === who);
      if (i >= 0) line.splice(i, 1);
    }
  }

  holds(who: object): boolean {
    return this.owner?.who === who;
  }

  get queued(): number {
    return this.waiting.foreground.length + this.waiting.background.length;
  }

  /** The share of the recent session time background work had (0-1; 0 before any use). */
  get backgroundUse(): number {
    const total = this.used.foreground + this.used.background;
    return total === 0 ? 0 : this.used.background / total;
  }

  private nextClass(): SessionClass | undefined {
    const fg = this.waiting.foreground.length > 0;
    const bg = this.waiting.background.length > 0;
    if (fg && bg) return this.backgroundUse < this.opts.backgroundShare ? "background" : "foreground";
    return fg ? "foreground" : bg ? "background" : undefined;
  }

  private decay(t: number): void {
    const f = Math.exp(-(t - this.decayedAt) / this.opts.memoryMs);
    this.used.foreground *= f;
    this.used.background *= f;
    this.decayedAt = t;
  }
}
