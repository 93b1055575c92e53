// Command cert-manager-controller runs cert-manager's controllers out of cluster against one
// API server: the issuers, clusterissuers and certificates controllers with the CA and
// self-signed issuers — what a DR test needs to prove certificates are not issued again.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/cert-manager/cert-manager/pkg/controller"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	clusterNamespace := flag.String("cluster-resource-namespace", "cert-manager", "namespace of ClusterIssuers' Secrets")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	factory, err := controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace: *clusterNamespace,
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the controller context:", err)
		os.Exit(1)
	}
	names := make([]string, 0)
	for name := range controller.Known() {
		names = append(names, name)
	}
	sort.Strings(names)
	var running []controller.Interface
	for _, name := range names {
		c, err := controller.Known()[name](factory)
		if err != nil {
			fmt.Fprintf(os.Stderr, "starting controller %s: %v\n", name, err)
			os.Exit(1)
		}
		running = append(running, c)
		fmt.Println("controller", name)
	}
	base, err := factory.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	base.KubeSharedInformerFactory.Start(ctx.Done())
	base.SharedInformerFactory.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, c := range running {
		wg.Add(1)
		go func(c controller.Interface) {
			defer wg.Done()
			if err := c.Run(5, ctx); err != nil {
				fmt.Fprintln(os.Stderr, "controller stopped:", err)
			}
		}(c)
	}
	fmt.Println("cert-manager controllers running", time.Now().Format(time.RFC3339))
	wg.Wait()
}
