import { Stack, Text, ThemeIcon, Title } from "@mantine/core";
import type { ReactNode } from "react";

export function EmptyState(props: { icon: ReactNode; title: string; children?: ReactNode }) {
  return (
    <Stack align="center" gap="xs" py={56} px="md" ta="center" data-testid="empty-state">
      <ThemeIcon size={56} radius="xl" variant="light" aria-hidden>
        {props.icon}
      </ThemeIcon>
      <Title order={2} size="h4" mt="sm">
        {props.title}
      </Title>
      <Text c="dimmed" maw={520}>
        {props.children}
      </Text>
    </Stack>
  );
}
