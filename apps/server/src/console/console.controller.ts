import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { CurrentHuman, RequiresRole } from '../auth/auth.guard';
import type { Human } from '../auth/identity';
import { PARLEY_CONFIG, type ParleyConfig } from '../config/config';

/**
 * Where the built console lives: `dist/console` at the repository root (scripts/build-console.mjs
 * writes it), or PARLEY_CONSOLE_DIR. This file compiles to dist/apps/server/src/console/.
 */
export function consoleDir(configured: string | undefined): string {
  return configured ?? resolve(__dirname, '..', '..', '..', '..', 'console');
}

/**
 * Serves the web console (a static single-page app) at /console: files as they are, any other
 * /console/* path gets index.html (the app routes with the URL hash). Public: the app signs in
 * with a bearer token itself. Also `GET /api/me`, so the console knows who the token is.
 */
@Controller()
export class ConsoleController {
  private readonly root: string;

  constructor(@Inject(PARLEY_CONFIG) config: ParleyConfig) {
    this.root = consoleDir(config.consoleDir);
  }

  @Get('api/me')
  @RequiresRole('viewer')
  me(@CurrentHuman() human: Human) {
    return { id: human.id, roles: human.roles };
  }

  @Get('console')
  index(@Req() req: Request, @Res() res: Response): void {
    secure(res);
    // base is /console/: relative URLs resolve against the folder
    if (!req.path.endsWith('/')) return res.redirect(301, `/console/${req.url.slice(req.path.length)}`);
    this.sendIndex(res);
  }

  @Get('console/*path')
  file(@Req() req: Request, @Res() res: Response): void {
    secure(res);
    const relative = decodeURIComponent(req.path.slice('/console/'.length));
    const file = normalize(join(this.root, relative));
    if (relative && (file === this.root || file.startsWith(this.root + sep)) && isFile(file)) {
      const hashed = file.startsWith(join(this.root, 'assets') + sep);
      res.setHeader('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
      const compressed = hashed ? precompressed(file, req.headers['accept-encoding']) : undefined;
      if (compressed) {
        // the build's .br / .gz of this file (scripts/build-console.mjs), typed as the file itself
        res.setHeader('Vary', 'Accept-Encoding');
        res.setHeader('Content-Encoding', compressed.encoding);
        res.type(extname(file));
        return res.sendFile(compressed.path, { dotfiles: 'deny' });
      }
      if (hashed) res.setHeader('Vary', 'Accept-Encoding');
      return res.sendFile(file, { dotfiles: 'deny' });
    }
    // a missing asset is a 404; any other path is a route of the app
    if (extname(relative) && relative.startsWith('assets/')) {
      res.status(404).json({ error: { code: 'CONSOLE.NOT_FOUND', message: `no file ${req.path}` } });
      return;
    }
    this.sendIndex(res);
  }

  private sendIndex(res: Response): void {
    const index = join(this.root, 'index.html');
    if (!isFile(index)) {
      res.status(404).json({
        error: {
          code: 'CONSOLE.NOT_BUILT',
          message: `the console is not built (no ${index}): run "npm run build" (node scripts/build-console.mjs)`,
        },
      });
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  }
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * The build's compressed copy of `file` the browser accepts (`Accept-Encoding`): brotli first, then
 * gzip; none when it accepts neither (or says `;q=0`) or the build wrote none.
 */
export function precompressed(
  file: string,
  acceptEncoding: string | undefined,
): { path: string; encoding: 'br' | 'gzip' } | undefined {
  const accepted = new Set(
    (acceptEncoding ?? '')
      .split(',')
      .map((part) => part.trim().toLowerCase().split(';'))
      .filter(([, ...params]) => !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p)))
      .map(([name]) => name!.trim()),
  );
  for (const [encoding, ext] of [
    ['br', '.br'],
    ['gzip', '.gz'],
  ] as const) {
    if (accepted.has(encoding) && isFile(file + ext)) return { path: file + ext, encoding };
  }
  return undefined;
}

/**
 * The console's security headers: a strict Content-Security-Policy (its own scripts, styles and
 * sockets only; no inline script, no framing, no plugins), no MIME sniffing, no referrer.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function secure(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}
