// Pieces both wizards share: the step form (Enter advances, focus lands on the first field), the
// error shown where a call failed (with the engine's own message one click away), and the list of
// checks an engine test returned.
import { Alert, Box, Button, Code, Collapse, Group, List, Stack, Text, ThemeIcon } from "@mantine/core";
import { IconAlertTriangle, IconCircleCheck, IconCircleX } from "@tabler/icons-react";
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";

import type { ApiError, Check } from "../bindings";
import { toApiError, type Outcome } from "../ipc";

// Focus moved by the wizard shows its ring, as focus moved by Tab does (where the engine supports it).
const VISIBLE = { focusVisible: true } as FocusOptions;

/**
 * One step's content as a form: Enter in a field submits it (the step's main action), and the
 * first field (or the element marked `data-autofocus`, or else the main action) takes the focus
 * when the step appears, so that a keyboard user never has to look for where to type.
 */
export function StepForm(props: {
  label: string;
  onSubmit: () => void;
  children: ReactNode;
  footer: ReactNode;
  /** While true a call runs; when it ends, focus lost to a disabled button returns to the form. */
  busy?: boolean;
}) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    const form = ref.current;
    if (!form) return;
    // A step without fields starts on its main action, never on Back.
    const first =
      form.querySelector<HTMLElement>("[data-autofocus]") ??
      form.querySelector<HTMLElement>(
        "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])",
      ) ??
      form.querySelector<HTMLElement>("button[type=submit]:not([disabled])");
    first?.focus(VISIBLE);
  }, []);
  useEffect(() => {
    const form = ref.current;
    if (props.busy || !form) return;
    // A button disabled while loading drops the focus to the page; give it back to the step's
    // main action so that Enter and Tab go on from here.
    const active = document.activeElement;
    if (active && active !== document.body && form.contains(active)) return;
    form.querySelector<HTMLElement>("button[type=submit]:not([disabled])")?.focus(VISIBLE);
  }, [props.busy]);
  function submit(e: FormEvent) {
    e.preventDefault();
    props.onSubmit();
  }
  return (
    <form ref={ref} onSubmit={submit} aria-label={props.label} noValidate>
      <Stack gap="md">{props.children}</Stack>
      <Group justify="space-between" mt="xl">
        {props.footer}
      </Group>
    </form>
  );
}

/**
 * A failed call, where it failed: what went wrong and what to do in the title and advice, and the
 * engine's message and code behind "Show details" for the administrator or for support. Without
 * advice the engine's message is shown directly (it already says what to do).
 */
export function StepError(props: { title: string; error: ApiError; advice?: string; testId?: string }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  return (
    <Alert
      color="red"
      variant="light"
      icon={<IconAlertTriangle />}
      title={props.title}
      role="alert"
      data-testid={props.testId}
    >
      <Text size="sm">{props.advice ?? props.error.message}</Text>
      <Button
        variant="subtle"
        color="red"
        size="compact-xs"
        mt={6}
        px={4}
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((o) => !o)}
      >
        {open ? "Hide details" : "Show details"}
      </Button>
      <Collapse expanded={open} id={id}>
        <Box mt={6}>
          <Code block style={{ whiteSpace: "pre-wrap", maxHeight: 240, overflow: "auto" }}>
            {props.error.message}
          </Code>
          <Text size="xs" c="dimmed" mt={4}>
            Error code <Code>{props.error.code}</Code>
          </Text>
        </Box>
      </Collapse>
    </Alert>
  );
}

/** Each check of an engine test, passed or failed, in the engine's words. */
export function CheckList(props: { checks: Check[]; label: string }) {
  return (
    <List spacing={6} size="sm" center aria-label={props.label}>
      {props.checks.map((c, i) => (
        <List.Item
          key={`${c.name}-${i}`}
          data-check={c.name}
          data-ok={c.ok}
          icon={
            <ThemeIcon color={c.ok ? "teal" : "red"} size={20} radius="xl" variant="light">
              {c.ok ? (
                <IconCircleCheck size={14} aria-label="passed" />
              ) : (
                <IconCircleX size={14} aria-label="failed" />
              )}
            </ThemeIcon>
          }
        >
          <Text size="sm" span fw={500}>
            {c.name}:
          </Text>{" "}
          <Text size="sm" span c={c.ok ? undefined : "red"}>
            {c.detail}
          </Text>
        </List.Item>
      ))}
    </List>
  );
}

/** Runs a generated command and always answers an Outcome (a thrown value becomes an ApiError). */
export async function call<T>(run: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
  try {
    return await run();
  } catch (e) {
    return { status: "error", error: toApiError(e) };
  }
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Focuses the first field that shows an error, after React has drawn it. */
export function focusFirstError(container: HTMLElement | null) {
  requestAnimationFrame(() => {
    container?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus(VISIBLE);
  });
}

/** `ab12...` as `AB:12:...`, the way browsers and Prism show a fingerprint. */
export function withColons(hex: string) {
  return (hex.match(/.{1,2}/g) ?? []).join(":").toUpperCase();
}

/** Splits "a, b c" into ["a", "b", "c"]. */
export function splitList(s: string) {
  return s
    .split(/[,\s]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}
