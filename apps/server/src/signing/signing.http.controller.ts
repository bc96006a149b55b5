import { Controller, Get, Inject } from '@nestjs/common';
import { RequiresRole } from '../auth/auth.guard';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { anchorKeys, checkAnchors, type AnchorsVerdict } from './anchor-check';

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
    const { signer, store } = this.core;
    // what is pending here is anchored first, and the anchor stream read to its end (Kafka: what
    // every instance anchored); then the log, at least as far (an anchor is written after its events)
    await signer.flushNow();
    await store.waitForCatchUp(10_000);
    const keys = anchorKeys(this.core.signingKey.publicKey, this.core.config.trustedKeys);
    let verdict: AnchorsVerdict;
    for (let attempt = 1; ; attempt++) {
      const runs = this.core.projection.listRuns().map((r) => ({ runId: r.runId, status: r.status }));
      verdict = await checkAnchors(store, signer.anchors, runs, keys);
      // Kafka: a run that another instance made wait a moment ago can be read here before its owner's
      // anchor is; look again for a few seconds before saying it was never anchored
      if (
        signer.anchors.kind !== 'kafka' ||
        attempt > 5 ||
        !verdict.runs.some((r) => r.problem === 'unanchored')
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await signer.flushNow();
    }
    const anchors = signer.anchors;
    return {
      ...verdict,
      anchors:
        anchors.kind === 'kafka'
          ? { kind: anchors.kind, topic: anchors.location }
          : { kind: anchors.kind, file: anchors.location },
      keyId: this.core.signingKey.keyId,
      publicKey: this.core.signingKey.publicKey,
    };
  }
}
