import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard bundle: plain TypeScript and uPlot, built into dist/dashboard
// and served by the controller itself (controller/http/dashboard.ts), so it
// works offline with no CDN.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
  },
});
