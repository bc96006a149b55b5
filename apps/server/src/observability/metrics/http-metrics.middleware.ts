import type { NextFunction, Request, Response } from 'express';
import type { ParleyMetrics } from './parley-metrics';

/**
 * Counts every HTTP answer by its route pattern (`/api/runs/:runId`, never the path with its ids)
 * and status. A path no route matched counts as `unmatched` (a scanner cannot grow the label set).
 */
export function httpMetrics(metrics: ParleyMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.once('finish', () => {
      const route = req.route as { path?: unknown } | undefined;
      const pattern = typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
      metrics.httpRequests.inc({ route: pattern, status: String(res.statusCode) });
    });
    next();
  };
}
