// Command floor is the grpc-go floor of `deno task bench:rpc`: the smallest
// server of dataservices.v1.MessagesService/GetMessage, answering every call
// with one fixed message from memory (the demo row of channel 1), so that the
// bench can compare our per-call CPU with what grpc-go itself costs.
//
// It uses code generated from proto/dataservices/v1/messages.proto by
// protoc-gen-go and protoc-gen-go-grpc (see buf.gen.yaml). Only GetMessage is
// implemented; the other methods answer UNIMPLEMENTED.
//
// Usage: floor [-addr 127.0.0.1:0]. Prints "listening 127.0.0.1:PORT" on
// stdout once the port is bound; stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	dataservicesv1 "floor/gen/dataservices/v1"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// snowflakeEpoch is server/snowflake.ts EPOCH_MS (2015-01-01T00:00:00Z).
const snowflakeEpoch = 1_420_070_400_000

type server struct {
	dataservicesv1.UnimplementedMessagesServiceServer
	reply *dataservicesv1.GetMessageResponse
}

func (s *server) GetMessage(context.Context, *dataservicesv1.GetMessageRequest) (*dataservicesv1.GetMessageResponse, error) {
	return s.reply, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	const messageID = 1000
	reply := &dataservicesv1.GetMessageResponse{Message: &dataservicesv1.Message{
		ChannelId: 1,
		MessageId: messageID,
		AuthorId:  5000,
		Content:   "Message 1 from the original data-services seed",
		CreatedAt: timestamppb.New(time.UnixMilli(snowflakeEpoch + messageID>>22)),
	}}
	s := grpc.NewServer()
	dataservicesv1.RegisterMessagesServiceServer(s, &server{reply: reply})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		s.Stop()
	}()
	fmt.Printf("listening %s\n", lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatalf("serve: %v", err)
	}
}
