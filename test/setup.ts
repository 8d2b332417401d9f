// Loaded by .mocharc.cjs before every spec: enables `await expect(p).to.be.rejectedWith(...)`.
import chai from 'chai';
import chaiAsPromised from 'chai-as-promised';

chai.use(chaiAsPromised);
