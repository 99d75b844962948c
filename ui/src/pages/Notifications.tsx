import { Card } from "@mantine/core";
import { IconBellOff } from "@tabler/icons-react";

import { EmptyState } from "../components/EmptyState";
import { PageHeader } from "../components/PageHeader";

export function NotificationsPage() {
  return (
    <>
      <PageHeader
        title="Notifications"
        description="Every job's start, progress and outcome: backups, replications, restores, setup."
      />
      <Card withBorder padding="lg">
        <EmptyState icon={<IconBellOff size={30} />} title="No notifications yet">
          When Standby backs up, replicates, restores or sets up disaster recovery, each job reports its progress and
          its outcome here.
        </EmptyState>
      </Card>
    </>
  );
}
