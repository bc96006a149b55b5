import { Module } from '@nestjs/common';
import { CommandRouter } from '../cluster/command-router';
import { AgUiHttpController } from './ag-ui.http.controller';
import { AgUiThreads } from './ag-ui-threads';

/**
 * The AG-UI endpoint (`POST /api/ag-ui/:workflow`, docs/AG-UI.md). Its CommandRouter is the same
 * stateless router the REST controllers use (its dependencies are global), provided here so that
 * this module needs nothing from AppModule but its registration.
 */
@Module({
  controllers: [AgUiHttpController],
  providers: [CommandRouter, AgUiThreads],
})
export class AgUiModule {}
