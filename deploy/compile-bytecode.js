'use strict';

// After serverless-python-requirements has put the dependencies into the zip, and before the
// framework hashes the zip for the function version, add Python 3.13 bytecode to it
// (deploy/compile_bytecode.py says why it is checked and hash-based).
const { execFileSync } = require('child_process');
const path = require('path');

class CompileBytecode {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'after:package:createDeploymentArtifacts': () => this.compile() };
  }

  compile() {
    const service = this.serverless.service;
    const artifacts = new Set();
    if (service.package && service.package.artifact) artifacts.add(service.package.artifact);
    for (const name of service.getAllFunctions()) {
      const fn = service.getFunction(name);
      if (fn.package && fn.package.artifact) artifacts.add(fn.package.artifact);
    }
    const python = (service.custom.pythonRequirements || {}).pythonBin || 'python3';
    execFileSync(python, ['-m', 'deploy.compile_bytecode', ...artifacts], {
      cwd: this.serverless.serviceDir,
      stdio: 'inherit',
    });
  }
}

module.exports = CompileBytecode;
