package backup

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
)

// RemotePodCommandExecutor is the PodCommandExecutor that runs commands
// through the API server's pods/exec subresource, over WebSocket, falling
// back to SPDY for servers that do not upgrade to WebSocket.
type RemotePodCommandExecutor struct {
	config *rest.Config
	client rest.Interface
}

// NewRemotePodCommandExecutor returns a RemotePodCommandExecutor for the
// cluster of config.
func NewRemotePodCommandExecutor(config *rest.Config) (*RemotePodCommandExecutor, error) {
	c, err := corev1client.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("building the pods/exec client: %w", err)
	}
	return &RemotePodCommandExecutor{config: rest.CopyConfig(config), client: c.RESTClient()}, nil
}

// ExecPodCommand implements PodCommandExecutor.
func (e *RemotePodCommandExecutor) ExecPodCommand(ctx context.Context, namespace, pod, container string, command []string, stdout, stderr io.Writer) error {
	req := e.client.Post().
		Resource("pods").
		Namespace(namespace).
		Name(pod).
		SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   command,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(e.config, "GET", req.URL().String())
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.config, "POST", req.URL())
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr}); err != nil {
		return fmt.Errorf("exec in pod %s/%s container %s: %w", namespace, pod, container, err)
	}
	return nil
}
