import { Controller, Get, Inject, Query } from '@nestjs/common';
import { RequiresRole } from '../auth/auth.guard';
import { NotificationOutbox } from './notification-outbox';

/** Deliveries of notifications, with their attempts and last errors (for operators). */
@Controller('api/notifications')
export class NotificationsHttpController {
  constructor(@Inject(NotificationOutbox) private readonly outbox: NotificationOutbox) {}

  @Get()
  @RequiresRole('admin')
  list(@Query('status') status?: string) {
    return { deliveries: this.outbox.list(status) };
  }
}
