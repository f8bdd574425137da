import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** In `npm run dev -w apps/web`, API paths go to the server on :3000; the build is served by the server itself. */
const apiPaths = ['/v1', '/docs', '/openapi.json', '/healthz', '/readyz', '/metrics'];

export default defineConfig({
  plugins: [react()],
  // Workspace packages (the SDK) are used from source: no build step between the SDK and the app.
  // antd-mobile's animation library (@react-spring 9) declares React ≤ 18, so npm also installs React 18 at the
  // root for it; dedupe makes the bundle use the app's React 19 everywhere (two Reacts break hooks).
  resolve: { conditions: ['@yika/source'], dedupe: ['react', 'react-dom'] },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: {
    proxy: Object.fromEntries(apiPaths.map((path) => [path, { target: 'http://localhost:3000', changeOrigin: false }])),
  },
});
