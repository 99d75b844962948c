import { Card, Loader, Tabs } from "@mantine/core";
import { IconArchive, IconArchiveOff, IconDatabase } from "@tabler/icons-react";

import type { CloudAccount } from "../bindings";
import { EmptyState } from "../components/EmptyState";
import { ErrorNotice } from "../components/ErrorNotice";
import { NoAccounts } from "../components/NoAccounts";
import { PageHeader } from "../components/PageHeader";
import { VolumeBrowser } from "../components/VolumeBrowser";
import type { Loaded } from "../ipc";

export function VolumesPage(props: { accounts: Loaded<CloudAccount[]> }) {
  const body = (what: string) => {
    if (props.accounts.state === "loading") return <Loader aria-label="Loading cloud accounts" />;
    if (props.accounts.state === "failed")
      return <ErrorNotice title="Cloud accounts could not be read" error={props.accounts.error} />;
    return <NoAccounts what={what} />;
  };
  return (
    <>
      <PageHeader
        title="Volumes"
        description="Persistent desktop volumes: free space, autogrow, backups, restore and clone."
      />
      <Card withBorder padding={0}>
        <Tabs defaultValue="volumes" keepMounted={false}>
          <Tabs.List px="md" pt="xs">
            <Tabs.Tab value="volumes" data-tab="volumes" leftSection={<IconDatabase size={16} />}>
              Volumes
            </Tabs.Tab>
            <Tabs.Tab value="backups" data-tab="backups" leftSection={<IconArchive size={16} />}>
              Backups
            </Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="volumes" p="md">
            {props.accounts.state === "ready" && props.accounts.data.length > 0 ? (
              <VolumeBrowser accounts={props.accounts.data} />
            ) : (
              body("Each user's volumes, their size, status and free space appear here.")
            )}
          </Tabs.Panel>
          <Tabs.Panel value="backups" p="md">
            {props.accounts.state === "ready" && props.accounts.data.length > 0 ? (
              <EmptyState icon={<IconArchiveOff size={30} />} title="No backup yet">
                Standby has not taken any backup. Taking, scheduling and restoring backups are not part of this
                release yet; until then, Backups of a volume stay empty.
              </EmptyState>
            ) : (
              body("Backups of a volume, manual and scheduled, with their replicas on the secondary site, appear here.")
            )}
          </Tabs.Panel>
        </Tabs>
      </Card>
    </>
  );
}
