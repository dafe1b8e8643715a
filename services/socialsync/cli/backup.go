package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The backup archive: a gzip-compressed tar of
//
//	manifest.json                 backupManifest
//	streams/<stream>.json         the stream's configuration
//	consumers/<stream>/<d>.json   each durable consumer's configuration
//	data/<stream>.jsonl           the stored messages of a key-value bucket or an object store, one backupMsg a line
//
// for every stream of the fleet: SOCIALSYNC_*, and the streams under its
// key-value buckets (KV_socialsync_*) and object stores (OBJ_socialsync_*).
// The messages of buckets and object stores are the data: relations,
// settings, definitions, statistics history, sealed tokens, reports. Work
// streams (triggers, events, dead letters) keep only their configuration.
const (
	backupFormat  = "socialsync-backup"
	backupVersion = 1
)

// backupManifest describes an archive.
type backupManifest struct {
	Format  string         `json:"format"`
	Version int            `json:"version"`
	Created time.Time      `json:"created"`
	Streams []backupStream `json:"streams"`
}

// backupStream is one stream of the archive: its name, whether its
// messages are in it (data), how many, and the sequence it was read to.
type backupStream struct {
	Name      string   `json:"name"`
	Data      bool     `json:"data"`
	Messages  int      `json:"messages"`
	LastSeq   uint64   `json:"lastSeq"`
	Consumers []string `json:"consumers,omitempty"`
}

// backupMsg is one stored message: subject, headers, data.
type backupMsg struct {
	Subject string      `json:"s"`
	Header  nats.Header `json:"h,omitempty"`
	Data    []byte      `json:"d"`
}

// fleetStream reports whether a stream of the server is the fleet's, and
// whether its messages are data to back up.
func fleetStream(name string) (ours, data bool) {
	switch {
	case strings.HasPrefix(name, "KV_socialsync_"), strings.HasPrefix(name, "OBJ_socialsync_"):
		return true, true
	case strings.HasPrefix(name, "SOCIALSYNC_"):
		return true, false
	}
	return false, false
}

func backupCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "backup", "Write a consistent, versioned archive of the fleet's stored state: every key-value bucket and object store\n"+
		"(relations, settings, definitions, statistics history, reports, tokens still sealed) and the configuration of\n"+
		"every stream and durable consumer. Each bucket is read up to the last message it held when the backup started.\n"+
		"Pending triggers, events and dead letters are not in it. `socialsync restore` brings it into an empty NATS.")
	url := natsFlag(fs)
	out := fs.String("o", "", "archive file to write (- writes standard output); or --dir")
	dir := fs.String("dir", "", "directory to write the archive into, named "+backupPrefix+"<UTC time>"+backupSuffix+" ("+backupPrefix+"20261206T030000Z"+backupSuffix+"); instead of -o")
	var keep retention
	fs.Var(&keep, "keep", "with --dir: after the archive is written, delete the directory's archives named as --dir names them\n"+
		"that are older than `age`, by the time in their name (14d, 36h; 0 deletes none)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *out == "" && *dir == "":
		return fmt.Errorf("%w: -o or --dir is required", errUsage)
	case *out != "" && *dir != "":
		return fmt.Errorf("%w: -o and --dir both given: the archive goes to one of them", errUsage)
	case keep > 0 && *dir == "":
		return fmt.Errorf("%w: --keep prunes the archives of --dir, and there is none", errUsage)
	}
	now := env.Now()
	if *dir != "" {
		st, err := os.Stat(*dir)
		if err != nil {
			return fmt.Errorf("--dir: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("%w: --dir %s is not a directory", errUsage, *dir)
		}
		*out = filepath.Join(*dir, backupName(now))
		if _, err := os.Lstat(*out); err == nil {
			return fmt.Errorf("%s already exists: one archive a second", *out)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	ctx, stop, onRefusal := refusals(ctx)
	defer stop()
	c, err := dial(ctx, *url, onRefusal)
	if err != nil {
		return refused(ctx, err)
	}
	defer c.close()

	w := env.Stdout
	var f *os.File
	if *out != "-" {
		// Written beside the target and renamed at the end: a failed
		// backup leaves no archive that looks whole.
		if f, err = os.CreateTemp(filepath.Dir(*out), backupTempPrefix+"*"); err != nil {
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		w = f
	}
	m, err := writeBackup(ctx, c.js, w, now)
	if err != nil {
		return refused(ctx, err)
	}
	report := env.Stdout
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), *out); err != nil {
			return err
		}
	} else {
		report = env.Stderr
	}
	var msgs int
	for _, s := range m.Streams {
		msgs += s.Messages
	}
	fmt.Fprintf(report, "backup of %d streams (%d stored messages of buckets and object stores) written to %s\n", len(m.Streams), msgs, *out)
	if keep == 0 {
		return nil
	}
	pruned, err := pruneBackups(*dir, now, time.Duration(keep), filepath.Base(*out))
	for _, name := range pruned {
		fmt.Fprintf(report, "deleted %s (older than %s)\n", filepath.Join(*dir, name), keep.String())
	}
	if err != nil {
		return fmt.Errorf("the archive is written, but pruning %s failed: %w", *dir, err)
	}
	return nil
}

// The archives of backup --dir: backupPrefix, the UTC time of the backup
// in backupTimeLayout, backupSuffix. --keep deletes no other file but the
// leftovers of an interrupted backup (backupTempPrefix).
const (
	backupPrefix     = "socialsync-"
	backupSuffix     = ".tar.gz"
	backupTimeLayout = "20060102T150405Z"
	backupTempPrefix = ".socialsync-backup-"
)

// backupName is the name of the archive of a backup made at now.
func backupName(now time.Time) string {
	return backupPrefix + now.UTC().Format(backupTimeLayout) + backupSuffix
}

// archiveTime reads the time of a backup from its archive's name; ok is
// false for any other name.
func archiveTime(name string) (time.Time, bool) {
	stamp, ok := strings.CutPrefix(name, backupPrefix)
	if !ok {
		return time.Time{}, false
	}
	if stamp, ok = strings.CutSuffix(stamp, backupSuffix); !ok || len(stamp) != len(backupTimeLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(backupTimeLayout, stamp)
	return t, err == nil
}

// pruneBackups deletes from dir the archives named by backupName whose
// time is more than keep before now, except keepName (the archive just
// written), and the temporary files of interrupted backups last modified
// more than keep before now. Other files, and directories, stay. It
// returns the names deleted, in order.
func pruneBackups(dir string, now time.Time, keep time.Duration, keepName string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	cutoff := now.Add(-keep)
	var deleted []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || name == keepName {
			continue
		}
		var when time.Time
		if t, ok := archiveTime(name); ok {
			when = t
		} else if strings.HasPrefix(name, backupTempPrefix) {
			info, err := e.Info()
			if err != nil {
				continue // gone meanwhile
			}
			when = info.ModTime()
		} else {
			continue
		}
		if !when.Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, name)
	}
	return deleted, errors.Join(errs...)
}

// retention is a --keep duration: Go's (36h, 90m) or whole days (14d).
type retention time.Duration

func (r *retention) String() string {
	d := time.Duration(*r)
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func (r *retention) Set(s string) error {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return fmt.Errorf("%q: want whole days (14d) or a duration (36h)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("%q: want whole days (14d) or a duration (36h)", s)
		}
	}
	if d < 0 {
		return fmt.Errorf("%q: a retention cannot be negative", s)
	}
	*r = retention(d)
	return nil
}

// writeBackup writes the archive of the fleet's streams to w.
func writeBackup(ctx context.Context, js jetstream.JetStream, w io.Writer, now time.Time) (backupManifest, error) {
	m := backupManifest{Format: backupFormat, Version: backupVersion, Created: now.UTC()}
	// The last sequence of every stream first, then each read up to it:
	// what is written during the backup is left out of every bucket alike.
	infos := map[string]*jetstream.StreamInfo{}
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		if ours, _ := fleetStream(name); !ours {
			continue
		}
		s, err := js.Stream(ctx, name)
		if err != nil {
			return m, fmt.Errorf("stream %s: %w", name, err)
		}
		infos[name] = s.CachedInfo()
	}
	if err := names.Err(); err != nil {
		return m, fmt.Errorf("list streams: %w", err)
	}
	if len(infos) == 0 {
		return m, errors.New("the server holds no socialsync stream: nothing to back up")
	}
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, name := range slices.Sorted(maps.Keys(infos)) {
		info := infos[name]
		_, data := fleetStream(name)
		bs := backupStream{Name: name, Data: data, LastSeq: info.State.LastSeq}
		if err := tarJSON(tw, "streams/"+name+".json", info.Config, now); err != nil {
			return m, err
		}
		s, err := js.Stream(ctx, name)
		if err != nil {
			return m, err
		}
		consumers := s.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.Config.Durable == "" {
				continue
			}
			bs.Consumers = append(bs.Consumers, ci.Config.Durable)
			if err := tarJSON(tw, "consumers/"+name+"/"+ci.Config.Durable+".json", ci.Config, now); err != nil {
				return m, err
			}
		}
		if err := consumers.Err(); err != nil {
			return m, fmt.Errorf("list consumers of %s: %w", name, err)
		}
		slices.Sort(bs.Consumers)
		if data && info.State.Msgs > 0 {
			if bs.Messages, err = backupData(ctx, s, info.State.LastSeq, tw, "data/"+name+".jsonl", now); err != nil {
				return m, fmt.Errorf("read %s: %w", name, err)
			}
		}
		m.Streams = append(m.Streams, bs)
	}
	if err := tarJSON(tw, "manifest.json", m, now); err != nil {
		return m, err
	}
	if err := tw.Close(); err != nil {
		return m, err
	}
	return m, zw.Close()
}

// backupData reads the messages of s up to last into a temporary file,
// then into the archive (a tar entry needs its size first).
func backupData(ctx context.Context, s jetstream.Stream, last uint64, tw *tar.Writer, name string, now time.Time) (int, error) {
	tmp, err := os.CreateTemp("", "socialsync-backup-*.jsonl")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	buf := bufio.NewWriter(tmp)
	enc := json.NewEncoder(buf)
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return n, err
		}
		got, done := 0, false
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return n, err
			}
			if meta.Sequence.Stream > last {
				done = true
				continue
			}
			if err := enc.Encode(backupMsg{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()}); err != nil {
				return n, err
			}
			n++
			if meta.Sequence.Stream == last {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return n, err
		}
		if done {
			break
		}
		if got == 0 {
			// Messages up to last were removed (expired, rolled up) while
			// being read: what is left has been read.
			break
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
	if err := buf.Flush(); err != nil {
		return n, err
	}
	st, err := tmp.Stat()
	if err != nil {
		return n, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return n, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: now}); err != nil {
		return n, err
	}
	_, err = io.Copy(tw, tmp)
	return n, err
}

func tarJSON(tw *tar.Writer, name string, v any, now time.Time) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: now}); err != nil {
		return err
	}
	_, err = tw.Write(data)
	return err
}

func restoreCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "restore", "Bring an archive of `socialsync backup` into a NATS that holds no socialsync data: the streams, durable\n"+
		"consumers, key-value buckets and object stores are created with the archived configurations, and the buckets'\n"+
		"and object stores' messages stored again. A server where `topology apply` ran but nothing was stored counts as\n"+
		"empty; one whose buckets hold data is refused, naming them. Tokens stay sealed: the workers need the same\n"+
		"SOCIALSYNC_TOKEN_KEY as before.")
	url := natsFlag(fs)
	in := fs.String("f", "", "archive file to read (required; - reads standard input)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	var r io.Reader
	switch *in {
	case "":
		return fmt.Errorf("%w: -f is required", errUsage)
	case "-":
		r = env.Stdin
	default:
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	ar, err := readBackup(r)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	ctx, stop, onRefusal := refusals(ctx)
	defer stop()
	c, err := connectNATS(*url, onRefusal)
	if err != nil {
		return refused(ctx, err)
	}
	defer c.close()
	msgs, err := ar.restore(ctx, c.js)
	if err != nil {
		return refused(ctx, err)
	}
	fmt.Fprintf(env.Stdout, "restored %d streams and %d stored messages of the backup of %s\n",
		len(ar.manifest.Streams), msgs, ar.manifest.Created.Format(time.RFC3339))
	return nil
}

// backupArchive is an archive read into memory: its manifest, stream and
// consumer configurations, and the data files.
type backupArchive struct {
	manifest  backupManifest
	streams   map[string]jetstream.StreamConfig
	consumers map[string][]jetstream.ConsumerConfig
	data      map[string][]byte
}

// readBackup reads and checks an archive.
func readBackup(r io.Reader) (*backupArchive, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a socialsync backup (gzip): %w", err)
	}
	ar := &backupArchive{streams: map[string]jetstream.StreamConfig{}, consumers: map[string][]jetstream.ConsumerConfig{}, data: map[string][]byte{}}
	tr := tar.NewReader(zr)
	var manifest bool
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a socialsync backup (tar): %w", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		dir, file := path.Split(h.Name)
		switch {
		case h.Name == "manifest.json":
			if err := json.Unmarshal(body, &ar.manifest); err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			manifest = true
		case dir == "streams/" && strings.HasSuffix(file, ".json"):
			var cfg jetstream.StreamConfig
			if err := json.Unmarshal(body, &cfg); err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			ar.streams[cfg.Name] = cfg
		case strings.HasPrefix(dir, "consumers/") && strings.HasSuffix(file, ".json"):
			var cfg jetstream.ConsumerConfig
			if err := json.Unmarshal(body, &cfg); err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			stream := strings.TrimSuffix(strings.TrimPrefix(dir, "consumers/"), "/")
			ar.consumers[stream] = append(ar.consumers[stream], cfg)
		case dir == "data/" && strings.HasSuffix(file, ".jsonl"):
			ar.data[strings.TrimSuffix(file, ".jsonl")] = body
		default:
			return nil, fmt.Errorf("not a socialsync backup: unexpected entry %q", h.Name)
		}
	}
	switch {
	case !manifest || ar.manifest.Format != backupFormat:
		return nil, errors.New("not a socialsync backup: no manifest.json of format " + backupFormat)
	case ar.manifest.Version > backupVersion:
		return nil, fmt.Errorf("a backup of format version %d, newer than this socialsync reads (%d): restore with the release that wrote it", ar.manifest.Version, backupVersion)
	}
	for _, s := range ar.manifest.Streams {
		if _, ok := ar.streams[s.Name]; !ok {
			return nil, fmt.Errorf("the manifest names stream %s, whose configuration is missing", s.Name)
		}
		if ours, _ := fleetStream(s.Name); !ours {
			return nil, fmt.Errorf("the manifest names stream %s, which is not socialsync's", s.Name)
		}
	}
	return ar, nil
}

// restore creates the archive's streams and consumers and stores the
// data messages again, after checking that the server holds none of the
// archive's data. It returns how many messages it stored.
func (ar *backupArchive) restore(ctx context.Context, js jetstream.JetStream) (int, error) {
	var full []string
	for _, s := range ar.manifest.Streams {
		st, err := js.Stream(ctx, s.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", s.Name, err)
		}
		if s.Data && st.CachedInfo().State.Msgs > 0 {
			full = append(full, fmt.Sprintf("%s (%d messages)", s.Name, st.CachedInfo().State.Msgs))
		}
	}
	if len(full) > 0 {
		return 0, fmt.Errorf("restore needs a NATS without socialsync data, and these hold some: %s", strings.Join(full, ", "))
	}
	total := 0
	for _, s := range ar.manifest.Streams {
		cfg := ar.streams[s.Name]
		// The server's own metadata (_nats.*) is its to write.
		for k := range cfg.Metadata {
			if strings.HasPrefix(k, "_nats.") {
				delete(cfg.Metadata, k)
			}
		}
		st, err := js.CreateOrUpdateStream(ctx, cfg)
		if err != nil {
			return total, fmt.Errorf("create stream %s: %w", s.Name, err)
		}
		for _, cc := range ar.consumers[s.Name] {
			for k := range cc.Metadata {
				if strings.HasPrefix(k, "_nats.") {
					delete(cc.Metadata, k)
				}
			}
			if _, err := st.CreateOrUpdateConsumer(ctx, cc); err != nil {
				return total, fmt.Errorf("create consumer %s of %s: %w", cc.Durable, s.Name, err)
			}
		}
		n, err := restoreData(ctx, js, ar.data[s.Name])
		total += n
		if err != nil {
			return total, fmt.Errorf("restore the messages of %s: %w", s.Name, err)
		}
		if n != s.Messages {
			return total, fmt.Errorf("stream %s: restored %d messages, the manifest says %d", s.Name, n, s.Messages)
		}
	}
	return total, nil
}

// restoreData publishes the archived messages of one stream in their
// order. Headers that would make the server check or deduplicate against
// the old stream's sequences are dropped.
func restoreData(ctx context.Context, js jetstream.JetStream, data []byte) (int, error) {
	if len(data) == 0 {
		return 0, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var m backupMsg
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return n, fmt.Errorf("message %d: %w", n+1, err)
		}
		msg := nats.NewMsg(m.Subject)
		msg.Data = m.Data
		for k, v := range m.Header {
			if strings.HasPrefix(k, "Nats-Expected-") || k == nats.MsgIdHdr {
				continue
			}
			msg.Header[k] = v
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			return n, fmt.Errorf("message %d (%s): %w", n+1, m.Subject, err)
		}
		n++
	}
	return n, nil
}
