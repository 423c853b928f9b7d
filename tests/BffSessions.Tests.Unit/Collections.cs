using BffSessions.Tests.Infrastructure;

namespace BffSessions.Tests;

// xunit finds collection definitions in the test assembly only: each test project declares the shared ones here.

[CollectionDefinition(RunsAlone.Name, DisableParallelization = true)]
public sealed class RunsAloneTests;

[CollectionDefinition(ServiceTestGroup.Name)]
public sealed class SharedServiceTests : ICollectionFixture<ServiceFixture>;
