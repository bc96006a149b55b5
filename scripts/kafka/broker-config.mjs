// The files a single-node KRaft broker starts from: server.properties and the log4j configurations.
import path from 'node:path';
import { majorOf } from './kafka-paths.mjs';

/**
 * One KRaft node (broker and controller in one JVM). Alone (`replication` 1) every topic gets by
 * with one replica; one of three (`replication` 3, `voters` naming all three controllers) the
 * internal topics get three replicas and two in sync, as in production.
 */
export function serverProperties({
  port,
  controllerPort,
  logDirs,
  version,
  autoCreateTopics,
  extraProperties,
  nodeId = 1,
  voters = `${nodeId}@127.0.0.1:${controllerPort}`,
  replication = 1,
}) {
  const factor = String(replication);
  const minIsr = String(Math.min(2, replication));
  const props = {
    'process.roles': 'broker,controller',
    'node.id': String(nodeId),
    'controller.quorum.voters': voters,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': logDirs,
    'num.partitions': '3',
    'default.replication.factor': factor,
    'min.insync.replicas': minIsr,
    'offsets.topic.replication.factor': factor,
    'offsets.topic.num.partitions': '10', // default 50: slow first group join on a test broker
    'transaction.state.log.replication.factor': factor,
    'transaction.state.log.min.isr': minIsr,
    'transaction.state.log.num.partitions': '10',
    // Topics are created explicitly (as in production); a typo'd topic fails instead of appearing.
    'auto.create.topics.enable': String(autoCreateTopics),
    // Tests: no 3 s wait before the first rebalance of a new group.
    'group.initial.rebalance.delay.ms': '0',
    // Small footprint and a fast start/stop.
    'num.network.threads': '2',
    'num.io.threads': '4',
    'num.recovery.threads.per.data.dir': '1',
    'background.threads': '4',
    'log.cleaner.threads': '1',
    'log.cleaner.dedupe.buffer.size': String(16 * 1024 * 1024), // default 128 MiB of heap
    'controlled.shutdown.enable': 'true',
    'log.flush.offset.checkpoint.interval.ms': '5000',
    'delete.topic.enable': 'true',
  };
  if (majorOf(version) >= 4) {
    props['share.coordinator.state.topic.replication.factor'] = factor;
    props['share.coordinator.state.topic.min.isr'] = minIsr;
  }
  Object.assign(props, extraProperties);
  return (
    `# Written by scripts/kafka/broker.mjs: KRaft node ${nodeId} for development and tests.\n` +
    Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') +
    '\n'
  );
}

export function brokerLogConfig(version, logsDir) {
  const file = path.join(logsDir, 'server.log');
  if (majorOf(version) >= 4) {
    return [
      'status = warn',
      'name = parley-kafka-broker',
      // Kafka logs its own shutdown from a JVM shutdown hook; log4j's hook would close the files first.
      'shutdownHook = disable',
      'appender.server.type = RollingFile',
      'appender.server.name = server',
      `appender.server.fileName = ${file}`,
      `appender.server.filePattern = ${file}.%i`,
      'appender.server.layout.type = PatternLayout',
      'appender.server.layout.pattern = [%d] %p %m (%c)%n',
      'appender.server.policies.type = Policies',
      'appender.server.policies.size.type = SizeBasedTriggeringPolicy',
      'appender.server.policies.size.size = 20MB',
      'appender.server.strategy.type = DefaultRolloverStrategy',
      'appender.server.strategy.max = 3',
      'rootLogger.level = info',
      'rootLogger.appenderRef.server.ref = server',
      'logger.statechange.name = state.change.logger',
      'logger.statechange.level = warn',
      'logger.request.name = kafka.request.logger',
      'logger.request.level = warn',
      '',
    ].join('\n');
  }
  return [
    'log4j.rootLogger=INFO, server',
    'log4j.appender.server=org.apache.log4j.RollingFileAppender',
    `log4j.appender.server.File=${file}`,
    'log4j.appender.server.MaxFileSize=20MB',
    'log4j.appender.server.MaxBackupIndex=3',
    'log4j.appender.server.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.request.logger=WARN',
    '',
  ].join('\n');
}

export function toolsLogConfig(version) {
  if (majorOf(version) >= 4) {
    return [
      'status = error',
      'name = parley-kafka-tools',
      'appender.stderr.type = Console',
      'appender.stderr.name = stderr',
      'appender.stderr.target = SYSTEM_ERR',
      'appender.stderr.layout.type = PatternLayout',
      'appender.stderr.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = warn',
      'rootLogger.appenderRef.stderr.ref = stderr',
      '',
    ].join('\n');
  }
  return [
    'log4j.rootLogger=WARN, stderr',
    'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
    'log4j.appender.stderr.Target=System.err',
    'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
    '',
  ].join('\n');
}

export function logConfigFlag(version, file) {
  return majorOf(version) >= 4 ? `-Dlog4j2.configurationFile=${file}` : `-Dlog4j.configuration=file:${file}`;
}
