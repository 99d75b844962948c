import { Alert, Card, Loader, Stack } from "@mantine/core";
import { IconInfoCircle } from "@tabler/icons-react";

import type { CloudAccount } from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { NoAccounts } from "../components/NoAccounts";
import { PageHeader } from "../components/PageHeader";
import type { Loaded } from "../ipc";

export function DisasterRecoveryPage(props: { accounts: Loaded<CloudAccount[]> }) {
  return (
    <>
      <PageHeader
        title="Disaster recovery"
        description="Back up every persistent resource and replicate it to a second AHV cluster or Azure region."
      />
      <Stack gap="lg">
        <Alert variant="light" color="gray" icon={<IconInfoCircle />} title="What is protected">
          The sandbox, utility servers, persistent desktops, and each user's enterprise profile and personal drive.
          Template images are not backed up: they are not part of a Frame account, so back them up separately.
        </Alert>
        {props.accounts.state === "loading" && <Loader aria-label="Loading cloud accounts" />}
        {props.accounts.state === "failed" && (
          <ErrorNotice title="Cloud accounts could not be read" error={props.accounts.error} />
        )}
        {props.accounts.state === "ready" && props.accounts.data.length === 0 && (
          <Card withBorder padding="lg">
            <NoAccounts what="Disaster recovery is enabled per Frame account, with a primary and a secondary site." />
          </Card>
        )}
      </Stack>
    </>
  );
}
