import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

// The console is served by the Parley server at /console (apps/server/src/console/), from
// dist/console at the repository root. `npm run dev` style: `npx vite apps/console` proxies the API.
/**
 * main.tsx sends the page's first requests and then imports the app (start.tsx) dynamically. This
 * lists the app's chunk (and the chunks it imports) in index.html as modulepreload, so the browser
 * fetches it alongside the entry instead of after it ran. The pages loaded later (run, replay,
 * inbox) are not listed: they load when shown.
 */
function preloadApp(): Plugin {
  return {
    name: 'parley-preload-app',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(_html, ctx) {
        const bundle = ctx.bundle;
        if (!bundle) return [];
        const chunks = Object.values(bundle).filter((c) => c.type === 'chunk');
        const app = chunks.find((c) => c.moduleIds.some((id) => id.endsWith('/src/start.tsx')));
        if (!app) throw new Error('the console build has no chunk for src/start.tsx');
        const files = new Set<string>();
        const add = (file: string): void => {
          if (files.has(file)) return;
          files.add(file);
          const chunk = chunks.find((c) => c.fileName === file);
          for (const dep of chunk?.imports ?? []) add(dep);
        };
        add(app.fileName);
        const entry = chunks.find((c) => c.isEntry);
        if (entry) files.delete(entry.fileName);
        return [...files].map((file) => ({
          tag: 'link',
          attrs: { rel: 'modulepreload', crossorigin: '', href: `/console/${file}` },
          injectTo: 'head' as const,
        }));
      },
    },
  };
}

export default defineConfig({
  root: here,
  base: '/console/',
  plugins: [react(), preloadApp()],
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
