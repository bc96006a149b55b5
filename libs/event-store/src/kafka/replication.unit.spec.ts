import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PartitionMetadata } from 'kafkajs';
import { replicationWarning } from './replication';

const partitions = (replicas: number): PartitionMetadata[] =>
  [0, 1].map((partitionId) => ({
    partitionId,
    leader: 1,
    replicas: Array.from({ length: replicas }, (_, i) => i + 1),
    isr: [1],
    partitionErrorCode: 0,
  }));

describe('replicationWarning: a topic with less than production replication is named at start-up', () => {
  it('says nothing for 3 replicas and min.insync.replicas 2', () => {
    assert.equal(replicationWarning('parley.run-events', partitions(3), 2), undefined);
  });
  it('warns about one replica, or two in sync missing', () => {
    assert.match(
      replicationWarning('parley.run-events', partitions(1), 1)!,
      /replication factor 1 and min.insync.replicas 1/,
    );
    assert.match(
      replicationWarning('parley.commands', partitions(3), 1)!,
      /parley.commands runs with replication factor 3 and min.insync.replicas 1/,
    );
  });
});
