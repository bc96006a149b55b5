import {
  Inject,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { EventStore } from '@parley/event-store';
import { PARLEY_CONFIG, type ParleyConfig } from '../config/config';
import type { ParleyCore } from '../core/core';
import { PARLEY_CORE } from '../core/core.module';
import { EVENT_STORE } from '../core/tokens';
import { NotificationOutbox } from './notification-outbox';
import { NotificationsHttpController } from './notifications.http.controller';
import { Notifier, notificationsTopic } from './notifier';

@Module({
  controllers: [NotificationsHttpController],
  providers: [
    {
      provide: NotificationOutbox,
      useFactory: (config: ParleyConfig) => new NotificationOutbox(config.dataDir, config.sqliteSync),
      inject: [PARLEY_CONFIG],
    },
    {
      provide: Notifier,
      useFactory: (config: ParleyConfig, store: EventStore, outbox: NotificationOutbox, core: ParleyCore) => {
        const logger = new Logger('Notifications');
        return new Notifier(store, outbox, {
          webhooks: config.webhooks,
          secret: config.webhookSecret,
          kafkaBrokers: config.eventLog === 'kafka' ? config.kafkaBrokers : undefined,
          kafkaReplicationFactor: config.kafkaReplicationFactor,
          kafkaTopic: notificationsTopic(config.kafkaTopicPrefix),
          clientId: config.instanceId,
          backoffMs: config.webhookBackoffMs,
          log: (line) => logger.warn(line),
          owns: (runId) => core.ownership.owns(runId),
        });
      },
      inject: [PARLEY_CONFIG, EVENT_STORE, NotificationOutbox, PARLEY_CORE],
    },
  ],
})
export class NotificationsModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(Notifier) private readonly notifier: Notifier,
    @Inject(NotificationOutbox) private readonly outbox: NotificationOutbox,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.notifier.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.notifier.stop();
    this.outbox.close();
  }
}
