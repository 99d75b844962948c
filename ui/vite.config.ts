import { defineConfig } from "vitest/config";

// No React plugin: esbuild compiles JSX itself, and fast refresh is not used (the app always
// embeds a built UI).
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: {
    target: "safari16",
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      // Mantine marks its modules "use client" for React Server Components; meaningless here.
      onwarn(warning, warn) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test-setup.ts"],
    css: false,
  },
});
