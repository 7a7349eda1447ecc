// Builds the analyst console (console/) into dist/console/, served by the API at /console.
// No Vite plugin: Vite 8 compiles TSX itself (oxc), with React's automatic JSX runtime.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: "/console/",
  logLevel: "warn",
  build: {
    outDir: path.resolve(here, "../dist/console"),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 600,
  },
});
