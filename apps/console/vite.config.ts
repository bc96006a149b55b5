import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

// The console is served by the Parley server at /console (apps/server/src/console/), from
// dist/console at the repository root. `npm run dev` style: `npx vite apps/console` proxies the API.
export default defineConfig({
  root: here,
  base: '/console/',
  plugins: [react()],
  resolve: {
    // Only the browser-safe schema files are imported (never hash-chain.ts / canonical-json.ts,
    // which need node:crypto).
    alias: {
      '@parley/contracts': fileURLToPath(new URL('../../libs/contracts/src', import.meta.url)),
      // the typed client (REST and socket.io), from its sources: the console holds no HTTP code of its own
      '@parley/client': fileURLToPath(new URL('../../libs/client/src/index.ts', import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      // zod's sources carry /* @__PURE__ */ comments Rollup cannot place: harmless noise
      onwarn(warning, warn) {
        if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
      },
    },
  },
  server: {
    proxy: {
      '/api': process.env.PARLEY_URL ?? 'http://localhost:3000',
      '/socket.io': { target: process.env.PARLEY_URL ?? 'http://localhost:3000', ws: true },
    },
  },
});
