import { Card, Code, Loader, SimpleGrid, Stack, Text, Title } from "@mantine/core";

import { commands, type AppInfo, type CloudAccount } from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { NoAccounts } from "../components/NoAccounts";
import { PageHeader } from "../components/PageHeader";
import { useCommand, type Loaded } from "../ipc";
import { DashboardView } from "../overview/DashboardView";

export function DashboardPage(props: { accounts: Loaded<CloudAccount[]>; info: Loaded<AppInfo> }) {
  const info = props.info;
  return (
    <>
      <PageHeader title="Dashboard" description="Protection of every persistent resource, at a glance." />
      <Stack gap="lg">
        {info.state === "ready" && info.data.lab?.error && (
          <ErrorNotice title="The lab did not start" error={info.data.lab.error} />
        )}
        {props.accounts.state === "loading" && <Loader aria-label="Loading cloud accounts" />}
        {props.accounts.state === "failed" && (
          <ErrorNotice title="Cloud accounts could not be read" error={props.accounts.error} />
        )}
        {props.accounts.state === "ready" && props.accounts.data.length === 0 && (
          <Card withBorder padding="lg">
            <NoAccounts what="Protected resources, the age of the newest backups and replicas, and the next scheduled runs appear here." />
          </Card>
        )}
        {props.accounts.state === "ready" && props.accounts.data.length > 0 && (
          <Protection accountCount={props.accounts.data.length} />
        )}
        <Card withBorder padding="lg" aria-labelledby="about-title">
          <Title order={2} size="h5" id="about-title" mb="xs">
            This installation
          </Title>
          {info.state === "ready" && (
            <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="md">
              <div>
                <Text size="xs" c="dimmed">
                  Version
                </Text>
                <Text size="sm">{info.data.version}</Text>
              </div>
              <div>
                <Text size="xs" c="dimmed">
                  Data folder
                </Text>
                <Code data-testid="data-dir">{info.data.data_dir}</Code>
              </div>
              <div>
                <Text size="xs" c="dimmed">
                  Logs
                </Text>
                <Code>{info.data.log_dir}</Code>
              </div>
            </SimpleGrid>
          )}
          {info.state === "failed" && <ErrorNotice title="Installation details could not be read" error={info.error} />}
        </Card>
      </Stack>
    </>
  );
}

/** The engine's dashboard, read from the catalog; each account's headroom follows, read live. */
function Protection(props: { accountCount: number }) {
  const dashboard = useCommand(() => commands.dashboard());
  if (dashboard.state === "loading") return <Loader aria-label="Loading the dashboard" />;
  if (dashboard.state === "failed") return <ErrorNotice title="The dashboard could not be read" error={dashboard.error} />;
  return <DashboardView dashboard={dashboard.data} accountCount={props.accountCount} />;
}
