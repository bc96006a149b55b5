import { Controller, Get, Inject } from '@nestjs/common';
import { RequiresRole } from '../auth/auth.guard';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { checkAnchors } from './anchor-check';

@Controller()
export class SigningHttpController {
  constructor(@Inject(PARLEY_CORE) private readonly core: ParleyCore) {}

  @Get('.well-known/parley-signing-key')
  signingKey() {
    const { keyId, publicKey } = this.core.signingKey;
    return { algorithm: 'Ed25519', keyId, publicKey, trustedKeys: this.core.config.trustedKeys };
  }

  @Get('api/anchors/check')
  @RequiresRole('viewer')
  async check() {
    this.core.signer.flushNow(); // what is pending is anchored first
    const runs = this.core.projection.listRuns().map((r) => ({ runId: r.runId, status: r.status }));
    return {
      ...(await checkAnchors(this.core.store, this.core.signer.anchors, runs)),
      anchors: { kind: this.core.signer.anchors.kind, file: this.core.signer.anchors.file },
      keyId: this.core.signingKey.keyId,
      publicKey: this.core.signingKey.publicKey,
    };
  }
}
