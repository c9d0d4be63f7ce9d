/*
 * Temporal's time-skipping test server (io.temporal:temporal-test-server, the same server
 * TestWorkflowEnvironment.createTimeSkipping() would otherwise download), listening on 127.0.0.1
 * only: the stock io.temporal.testserver.TestServer binds every interface. Same arguments as the
 * stock main class — `<port> [--enable-time-skipping]` — which is what the Temporal SDK passes to
 * an `existing-path` test server executable. Compiled by scripts/setup.sh into the tools cache.
 */
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.temporal.internal.testservice.GRPCServerHelper;
import io.temporal.internal.testservice.TestServicesStarter;
import java.net.InetSocketAddress;

public final class LoopbackTestServer {
  private LoopbackTestServer() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: LoopbackTestServer <port> [--enable-time-skipping]");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    boolean enableTimeSkipping = false;
    for (int i = 1; i < args.length; i++) {
      if (args[i].equalsIgnoreCase("--enable-time-skipping")) enableTimeSkipping = true;
      else {
        System.err.println("unknown flag " + args[i]);
        System.exit(2);
      }
    }
    // As TestServer.main: time skipping is locked until a client unlocks it, unless enabled here.
    TestServicesStarter services = new TestServicesStarter(!enableTimeSkipping, 0);
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port), InsecureServerCredentials.create());
    GRPCServerHelper.registerServicesAndHealthChecks(services.getServices(), builder);
    Server server = builder.build().start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.shutdownNow();
      services.close();
    }));
    server.awaitTermination();
  }
}
