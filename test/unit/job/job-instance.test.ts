import { expect } from 'chai';
import { ConfigurationError, CorruptedDataError } from '../../../lib/errors';
import {
  defaultInstanceId,
  ipOfInstanceId,
  localIp,
  parseInstanceInfo,
  serializeInstanceInfo,
  validateInstanceId,
  type InstanceInfo,
} from '../../../lib/job/job-instance';

describe('job-instance', () => {
  it('localIp() is an IPv4 address', () => {
    expect(localIp()).to.match(/^\d{1,3}(\.\d{1,3}){3}$/);
  });

  it('defaultInstanceId() is {ip}@-@{pid}', () => {
    expect(defaultInstanceId('10.0.0.5', 1234)).to.equal('10.0.0.5@-@1234');
    expect(defaultInstanceId()).to.equal(`${localIp()}@-@${process.pid}`);
    expect(validateInstanceId(defaultInstanceId())).to.equal(defaultInstanceId());
    expect(ipOfInstanceId('10.0.0.5@-@1234')).to.equal('10.0.0.5');
    expect(ipOfInstanceId('pod-a')).to.equal(null);
  });

  it('accepts safe node names and default ids', () => {
    for (const id of ['pod-a', 'worker_1.eu', 'A', 'x'.repeat(128), '10.0.0.5@-@1234']) {
      expect(validateInstanceId(id)).to.equal(id);
    }
  });

  it("rejects unsafe ids with ConfigurationError('instanceId')", () => {
    for (const id of ['', 'a/b', '-a', 'has space', 'x'.repeat(129), '..', 'a@b', 42, null]) {
      expect(() => validateInstanceId(id))
        .to.throw(ConfigurationError, /^instanceId: /)
        .with.property('field', 'instanceId');
    }
  });

  describe('InstanceInfo', () => {
    const info: InstanceInfo = {
      host: 'box-1',
      ip: '10.0.0.5',
      pid: 1234,
      labels: { zone: 'eu-1' },
      startedAt: 1_700_000_000_000,
      version: '0.1.0',
    };

    it('round-trips with a stable key order', () => {
      const raw = serializeInstanceInfo({ ...info });
      expect(Object.keys(JSON.parse(raw) as object)).to.deep.equal([
        'host',
        'ip',
        'pid',
        'labels',
        'startedAt',
        'version',
      ]);
      expect(parseInstanceInfo('/j/instances/x', raw)).to.deep.equal(info);
    });

    it('tolerates unknown extra fields from newer workers', () => {
      const raw = JSON.stringify({ ...info, extra: 1 });
      expect(parseInstanceInfo('/j/instances/x', raw)).to.deep.equal(info);
    });

    const bad: [string, string, RegExp][] = [
      ['bad JSON', '{', /invalid JSON/],
      ['a missing field', JSON.stringify({ ...info, pid: undefined }), /pid/],
      ['a wrong type', JSON.stringify({ ...info, labels: { a: 1 } }), /labels/],
      ['not an object', '"x"', /value/],
    ];
    for (const [what, raw, reason] of bad) {
      it(`reports ${what} as CorruptedDataError with the path`, () => {
        expect(() => parseInstanceInfo('/j/instances/x', raw))
          .to.throw(CorruptedDataError, reason)
          .with.property('path', '/j/instances/x');
      });
    }
  });
});
