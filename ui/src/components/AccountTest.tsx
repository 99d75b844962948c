import { Badge, Button, List, Popover, Stack, Text, ThemeIcon, Tooltip } from "@mantine/core";
import { IconCircleCheck, IconCircleX, IconPlugConnected } from "@tabler/icons-react";
import { useCallback, useEffect, useRef, useState } from "react";

import { commands, type AccountHealth, type ApiError, type CloudAccount } from "../bindings";
import { toApiError } from "../ipc";
import { ErrorNotice } from "./ErrorNotice";

export type Health = {
  running: boolean;
  result: AccountHealth | null;
  error: ApiError | null;
  run: () => Promise<void>;
};

/** The engine's test of one cloud account, run once when the list shows it and again on demand. */
export function useAccountHealth(account: CloudAccount): Health {
  const [running, setRunning] = useState(true);
  const [result, setResult] = useState<AccountHealth | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const asked = useRef(0);
  // Only the latest ask's answer counts (a second test, or the row leaving the list).
  const ask = useCallback(() => {
    const n = ++asked.current;
    void commands
      .testCloudAccount(account.id)
      .catch((e: unknown) => ({ status: "error" as const, error: toApiError(e) }))
      .then((out) => {
        if (n !== asked.current) return;
        if (out.status === "ok") setResult(out.data);
        else setError(out.error);
        setRunning(false);
      });
  }, [account.id]);
  const run = useCallback(async () => {
    setRunning(true);
    setError(null);
    setResult(null);
    ask();
  }, [ask]);
  useEffect(() => {
    const counter = asked;
    ask();
    return () => {
      counter.current++;
    };
  }, [ask]);
  return { running, result, error, run };
}

/** The account's health in a word, with the first failing check when there is one. */
export function HealthBadge(props: { account: CloudAccount; health: Health }) {
  const { running, result, error } = props.health;
  const id = `health-${props.account.name}`;
  if (running) return <Badge variant="light" color="gray" data-testid={id}>Checking…</Badge>;
  if (error)
    return (
      <Tooltip label={error.message} multiline w={360}>
        <Badge variant="light" color="red" data-testid={id}>Could not test</Badge>
      </Tooltip>
    );
  if (!result) return null;
  const failing = result.checks.find((c) => !c.ok);
  return (
    <Tooltip label={failing ? `${failing.name}: ${failing.detail}` : `Every check passed at ${new Date(result.tested_at).toLocaleString()}`} multiline w={360}>
      <Badge variant="light" color={result.ok ? "teal" : "red"} tt="none" data-testid={id}>
        {result.ok ? "Healthy" : `Needs attention: ${failing?.name ?? "a check failed"}`}
      </Badge>
    </Tooltip>
  );
}

/** Shows every check of the engine's test of one cloud account, with what to do; runs it again. */
export function AccountTest(props: { account: CloudAccount; health: Health }) {
  const { running, result, error } = props.health;
  const [opened, setOpened] = useState(false);

  function run() {
    setOpened(true);
    void props.health.run();
  }

  const tone = result ? (result.ok ? "teal" : "red") : undefined;
  return (
    <Popover opened={opened} onChange={setOpened} width={420} position="bottom-end" withArrow shadow="md">
      <Popover.Target>
        <Button
          size="xs"
          variant="light"
          color={tone}
          loading={running}
          leftSection={<IconPlugConnected size={14} />}
          onClick={run}
          aria-label={`Test ${props.account.name}`}
          data-testid={`test-${props.account.name}`}
        >
          {result || error ? "Test again" : "Test"}
        </Button>
      </Popover.Target>
      <Popover.Dropdown aria-live="polite" data-testid={`test-result-${props.account.name}`}>
        {running && <Text size="sm">Testing {props.account.name}…</Text>}
        {error && <ErrorNotice title={`${props.account.name} could not be tested`} error={error} />}
        {result && (
          <Stack gap="xs">
            <Text size="sm" fw={600}>
              {result.ok ? `${props.account.name} is reachable and usable` : `${props.account.name} needs attention`}
            </Text>
            <List spacing={6} size="sm" center>
              {result.checks.map((c) => (
                <List.Item
                  key={c.name}
                  icon={
                    <ThemeIcon color={c.ok ? "teal" : "red"} size={20} radius="xl" variant="light">
                      {c.ok ? <IconCircleCheck size={14} /> : <IconCircleX size={14} />}
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
            <Text size="xs" c="dimmed">
              Tested {new Date(result.tested_at).toLocaleString()}
            </Text>
          </Stack>
        )}
      </Popover.Dropdown>
    </Popover>
  );
}
