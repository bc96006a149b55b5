import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequiresRole } from '../auth/auth.guard';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { checkAnchors } from './anchor-check';

@ApiTags('audit')
@Controller()
export class SigningHttpController {
  constructor(@Inject(PARLEY_CORE) private readonly core: ParleyCore) {}

  @Get('.well-known/parley-signing-key')
  @ApiOperation({
    summary:
      "The server's public signing key (Ed25519): what `parley verify FILE --key` checks an export against. Public.",
  })
  signingKey() {
    const { keyId, publicKey } = this.core.signingKey;
    return { algorithm: 'Ed25519', keyId, publicKey, trustedKeys: this.core.config.trustedKeys };
  }

  @Get('api/anchors/check')
  @RequiresRole('viewer')
  @ApiBearerAuth()
  @ApiOperation({
    summary:
      'Every run against the anchor stream: each one whose log does not pass through its last anchored (signed) head',
  })
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
