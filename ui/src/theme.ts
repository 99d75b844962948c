import { createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "blue",
  // Visible focus for keyboard users, never for mouse clicks.
  focusRing: "auto",
  defaultRadius: "md",
  fontFamily: "Inter, 'Segoe UI', Cantarell, 'Noto Sans', system-ui, sans-serif",
  headings: { fontWeight: "650" },
});
