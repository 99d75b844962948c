import { Button, List, Popover, Stack, Text, ThemeIcon } from "@mantine/core";
import { IconCircleCheck, IconCircleX, IconPlugConnected } from "@tabler/icons-react";
import { useState } from "react";

import { commands, type AccountHealth, type ApiError, type CloudAccount } from "../bindings";
import { ErrorNotice } from "./ErrorNotice";

/** Runs the engine's test of one cloud account and shows every check, with what to do. */
export function AccountTest(props: { account: CloudAccount }) {
  const [running, setRunning] = useState(false);
  const [result, setResult] = useState<AccountHealth | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [opened, setOpened] = useState(false);

  async function run() {
    setRunning(true);
    setError(null);
    setResult(null);
    setOpened(true);
    const out = await commands.testCloudAccount(props.account.id);
    if (out.status === "ok") setResult(out.data);
    else setError(out.error);
    setRunning(false);
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
          {result ? (result.ok ? "Passed" : "Failed") : "Test"}
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
