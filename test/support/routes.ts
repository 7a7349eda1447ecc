// The routes an Express 5 app really serves, read from its router stack (routers included), as
// "METHOD /path" strings: the access and OpenAPI tests compare their own lists with it.
import { createApp } from "../../src/api/app";
import type { Services } from "../../src/services";

type Layer = { route?: { path: string | string[]; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };

export function servedRoutes(services: Services): string[] {
  const app = createApp(services, { bodyLimitBytes: 1024, workerInProcess: false });
  const out = new Set<string>();
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const p of [layer.route.path].flat()) for (const m of Object.keys(layer.route.methods)) out.add(`${m.toUpperCase()} ${p}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return [...out];
}
