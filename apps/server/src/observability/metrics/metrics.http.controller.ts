import { timingSafeEqual } from 'node:crypto';
import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { UnauthorizedError } from '@parley/contracts';
import type { Response } from 'express';
import { PARLEY_CONFIG, type ParleyConfig } from '../../config/config';
import { ParleyMetrics } from './parley-metrics';

/**
 * `GET /metrics`: the Prometheus text format. Public, like /health, unless PARLEY_METRICS_TOKEN is
 * set: then only that bearer token (not a user's: a scraper is no one in the identities file).
 */
@Controller('metrics')
export class MetricsHttpController {
  constructor(
    @Inject(ParleyMetrics) private readonly metrics: ParleyMetrics,
    @Inject(PARLEY_CONFIG) private readonly config: ParleyConfig,
  ) {}

  @Get()
  async scrape(
    @Res({ passthrough: true }) res: Response,
    @Headers('authorization') authorization: string | undefined,
  ): Promise<string> {
    if (this.config.metricsToken) this.check(authorization, this.config.metricsToken);
    const { contentType, body } = await this.metrics.exposition();
    res.setHeader('content-type', contentType);
    return body;
  }

  private check(header: string | undefined, expected: string): void {
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!token)
      throw new UnauthorizedError(
        'AUTH.MISSING_TOKEN',
        'send the metrics token: Authorization: Bearer <PARLEY_METRICS_TOKEN>',
      );
    const a = Buffer.from(token);
    const b = Buffer.from(expected);
    if (a.length !== b.length || !timingSafeEqual(a, b))
      throw new UnauthorizedError('AUTH.INVALID_TOKEN', 'the metrics token is not valid');
  }
}
